"""EXC: exchanging points along the whitelist, exactly as the documents compute it."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

from qiibee_conformance import reconcile
from qiibee_conformance.checks.base import check, describe, ensure, expect_4xx, expect_status
from qiibee_conformance.checks.context import CheckContext
from qiibee_conformance.checks.exchange_run import PairRun, amount_bounds, exchange_run, minimal_amount
from qiibee_conformance.client import Response
from qiibee_conformance.discovery import Pair, parse_rate
from qiibee_conformance.evidence import Exchange
from qiibee_conformance.findings import Nonconformity, Untestable
from qiibee_conformance.money import number_equals, received_amount

# Overrides exact in binary floating point, so a float-parsing target computes them right too.
OVERRIDES = (Fraction(5, 2), Fraction(1, 2), Fraction(3, 2), Fraction(4), Fraction(1, 4))
INVALID_MEMBERSHIP = "ABCDEFGHIJKL"


def _active_runs(ctx: CheckContext) -> list[PairRun]:
    runs = exchange_run(ctx).active()
    if not runs:
        raise Untestable("no exchange could be made: no usable active pair from the brand token")
    return runs


@check("EXC-01")
def exchange_accepted(ctx: CheckContext) -> None:
    runs = _active_runs(ctx)
    for run in runs:
        for amount, response in run.responses.items():
            expect_status(
                response,
                (202,),
                f"exchange of {amount} along active pair "
                f"{run.pair.from_token.id}→{run.pair.to_token.id} from a funded user",
            )
            body = response.json()
            ensure(
                not response.text.strip() or isinstance(body, dict),
                f"the 202 body is neither empty nor a JSON object: {describe(response)}",
                response,
            )


@check("EXC-02")
def one_way(ctx: CheckContext) -> None:
    one_way_pairs = [p for p in ctx.catalogue.one_way_pairs() if p.to_token.type != "crypto"]
    if not one_way_pairs:
        raise Untestable("the whitelist has no one-way pair from the brand token")
    held = [
        r
        for r in exchange_run(ctx).active()
        if r.pair in one_way_pairs and r.partner_balance is not None and r.partner_balance > 0
    ]
    if held:
        run = held[0]
        user, pair = run.user, run.pair
        assert run.partner_balance is not None
        amount = max(1, min(int(run.partner_balance), minimal_amount(pair)))
        note = f"the user holds {run.partner_balance} points of token {pair.to_token.id}"
    else:
        pair = one_way_pairs[0]
        user = ctx.new_user("x")
        amount = 1
        note = f"the user holds no points of token {pair.to_token.id} (weaker probe)"
        ctx.notes.append(f"EXC-02: {note}")
    reverse = ctx.exchange(user, (pair.to_token.id, pair.from_token.id), amount)
    expect_status(
        reverse,
        (400,),
        f"exchange of {amount} from {pair.to_token.id} back to {pair.from_token.id}, the reverse of a "
        f"one-way pair ({note})",
    )


@check("EXC-03")
def received_amount_exact(ctx: CheckContext) -> None:
    runs = _active_runs(ctx)
    checked = 0
    for run in runs:
        for amount in run.accepted:
            row = run.row_for(amount)
            if row is None:
                continue  # a missing row is EXC-11's and SET-01's finding
            got = row.get("amount_received")
            if got is None:
                continue
            expected = received_amount(amount, run.rate)
            checked += 1
            if not number_equals(got, expected):
                raise Nonconformity(
                    f"exchange of {amount} from token {run.pair.from_token.id} (offramp "
                    f"{run.pair.from_token.raw.get('offramp')}) to token {run.pair.to_token.id} (onramp "
                    f"{run.pair.to_token.raw.get('onramp')}) received {got!r}; floor({amount} × "
                    f"{run.rate}) = {expected}",
                    [run.responses[amount], *exchange_run(ctx).settled.evidence],
                )
    if not checked:
        raise Untestable("no exchange history row showed amount_received")


def _override_plan(pair: Pair) -> tuple[int, int, Fraction]:
    """(baseline amount, override amount, override): the override changes the baseline's result,
    amount × override is a whole number so rounding mistakes cannot interfere, and both amounts
    lie strictly inside the pair's USD limits (which a target may enforce)."""
    offramp, onramp = pair.from_token.offramp, pair.to_token.onramp
    assert offramp is not None and onramp
    rate = offramp / onramp
    low, high = amount_bounds(pair)
    base = minimal_amount(pair)
    for override in OVERRIDES:
        if override == rate or received_amount(base, override) == received_amount(base, rate):
            continue
        amount = _multiple_above(override.denominator, max(base + 1, low))
        if amount <= high:
            return base, amount, override
    raise Untestable(
        f"no override value changes the result on pair {pair.from_token.id}→{pair.to_token.id} "
        "with amounts inside its USD limits"
    )


def _multiple_above(step: int, least: int) -> int:
    """The smallest multiple of ``step`` that is at least ``least``."""
    return step * max(1, math.ceil(Fraction(least, step)))


def _exchange_row(rows: list[dict[str, Any]], amount: int) -> list[dict[str, Any]]:
    return [r for r in rows if reconcile.row_type(r) == "exchange" and reconcile.points_burned(r) == amount]


@check("EXC-04")
def rate_override_not_stored(ctx: CheckContext) -> None:
    pair = ctx.simple_pair()
    base, amount, override = _override_plan(pair)
    user = ctx.new_user("x")
    ctx.fund(user, 2 * base + amount + 1)  # one spare: spending the whole balance is EXC-05's
    first = ctx.exchange(user, pair, base)
    with_override = ctx.exchange(user, pair, amount, exchange_rate_override=float(override))
    again = ctx.exchange(user, pair, base)
    ctx.trailer(user)
    for response, what in (
        (first, "exchange"),
        (with_override, "exchange with exchange_rate_override"),
        (again, "the same exchange after the override"),
    ):
        expect_status(response, (202,), what)
    settled = ctx.wait_settled([user], min_moves={user: 3})
    rows = settled.rows.get(user, [])
    evidence: list[Response | Exchange] = [first, with_override, again, *settled.evidence]
    over = _exchange_row(rows, amount)
    plain = _exchange_row(rows, base)
    if len(over) != 1 or len(plain) != 2:
        raise Untestable("the three exchanges are not all in the history (see EXC-11/SET-01)")
    want = received_amount(amount, override)
    ensure(
        number_equals(over[0].get("amount_received"), want),
        f"exchange of {amount} with exchange_rate_override {override} received "
        f"{over[0].get('amount_received')!r}, expected floor({amount} × {override}) = {want}",
        *evidence,
    )
    received = [r.get("amount_received") for r in plain]
    values = [parse_rate(v) for v in received]
    ensure(
        values[0] is not None and values[0] == values[1],
        f"the same exchange of {base} received {received[1]!r} before and {received[0]!r} after an exchange "
        f"with exchange_rate_override {override}: the override was stored",
        *evidence,
    )


def _funded_user(ctx: CheckContext, amount: int) -> str:
    user = ctx.new_user("x")
    ctx.fund(user, amount)
    return user


@check("EXC-05")
def insufficient_balance(ctx: CheckContext) -> None:
    pair = ctx.simple_pair()
    amount = minimal_amount(pair)
    user = _funded_user(ctx, amount)
    response = ctx.exchange(user, pair, amount + 1)
    expect_status(response, (400,), f"exchange of {amount + 1} with a balance of {amount}")
    balance = ctx.balance(user)
    ensure(balance == amount, f"a refused exchange changed the balance from {amount} to {balance}", response)
    # Only "more points than the user currently has" is refused: the whole balance is not more.
    whole = ctx.exchange(user, pair, amount)
    expect_status(whole, (202,), f"exchange of {amount}, exactly the whole balance of {amount}", response)
    after = _balance_after_settlement(ctx, user)
    ensure(
        after in (0, amount),
        f"after an exchange of the whole balance of {amount} settled, the balance is {after}; expected 0 "
        f"(exchange succeeded) or {amount} (exchange failed and was reversed)",
        response,
        whole,
    )


def _balance_after_settlement(ctx: CheckContext, user: str) -> Decimal:
    """The balance once the user's exchange has settled (Untestable if it never does)."""
    if not ctx.wait_settled([user], min_moves={user: 1}).settled:
        raise Untestable("the exchange did not settle before the deadline (see SET-01)")
    return ctx.balance(user)


@check("EXC-06")
def unknown_user(ctx: CheckContext) -> None:
    pair = ctx.simple_pair()
    response = ctx.exchange(f"qc-unknown-{ctx.settings.run_id}", pair, minimal_amount(pair))
    expect_status(response, (400,), "exchange for a user that does not exist")


@check("EXC-07")
def unknown_token(ctx: CheckContext) -> None:
    pair = ctx.simple_pair()
    amount = minimal_amount(pair)
    user = _funded_user(ctx, amount * 2)
    bogus = ctx.catalogue.unused_token_id()
    expect_status(
        ctx.exchange(user, (pair.from_token.id, bogus), amount),
        (400,),
        f"exchange to token {bogus}, which does not exist",
    )
    expect_status(
        ctx.exchange(user, (bogus, pair.to_token.id), amount),
        (400,),
        f"exchange from token {bogus}, which does not exist",
    )


@check("EXC-08")
def amount_forms(ctx: CheckContext) -> None:
    pair = ctx.simple_pair()
    low = minimal_amount(pair)
    user = _funded_user(ctx, 4 * low + 10)
    for amount in (low + 0.5, f"{low}.5", f"{2 * low + 1}/2", 0, "0", -low, f"-{low}"):
        expect_status(ctx.exchange(user, pair, amount), (400,), f"exchange with amount {amount!r}")
    _boolean_amount_refused(ctx, user, pair, 4 * low + 10)
    expect_status(
        ctx.exchange(user, pair, str(low)), (202,), f"exchange with amount {str(low)!r} (digit string)"
    )


def _boolean_amount_refused(ctx: CheckContext, user: str, pair: Pair, funded: int) -> None:
    """JSON true is neither an integer nor a string of digits (a wrong type: a 4xx), even where a
    language reads it as 1; the refused request leaves the balance as it was."""
    response = ctx.exchange(user, pair, True)
    expect_4xx(response, "exchange with amount true (a boolean, not an integer or a string of digits)")
    balance = ctx.balance(user)
    ensure(
        balance == funded,
        f"after exchanges with invalid amounts were refused, the balance is {balance}, not {funded}",
        response,
    )


def _miles_pairs(ctx: CheckContext) -> list[Pair]:
    pairs = [p for p in ctx.catalogue.pairs_of_type("miles")]
    if not pairs:
        raise Untestable("the whitelist has no active pair from the brand token to a miles token")
    return pairs


@check("EXC-09")
def miles_need_membership(ctx: CheckContext) -> None:
    pairs = _miles_pairs(ctx)
    amounts = {p.to_token.id: minimal_amount(p) for p in pairs}
    user = _funded_user(ctx, sum(amounts.values()) + 1)
    for pair in pairs:
        response = ctx.exchange(user, pair, amounts[pair.to_token.id])
        expect_status(
            response,
            (400,),
            f"exchange to miles token {pair.to_token.id} with no saved membership and no override",
        )


@check("EXC-10")
def membership_override(ctx: CheckContext) -> None:
    pairs = _miles_pairs(ctx)
    user = ctx.new_user("x")
    saved = ctx.save_memberships(user)
    if not saved:
        raise Untestable("no membership could be saved: no valid number configured (membership_numbers)")
    amounts = {p.to_token.id: minimal_amount(p) for p in pairs}
    ctx.fund(user, 2 * sum(amounts.values()) + 1)
    accepted: tuple[Pair, Response, str] | None = None
    for pair in pairs:
        for provider, numbers in ctx.settings.membership_numbers.items():
            if provider not in saved:
                continue
            other = next((n for n in numbers if n != saved[provider]), saved[provider])
            response = ctx.exchange(user, pair, amounts[pair.to_token.id], brandB_membership_number=other)
            if response.status == 202:
                accepted = (pair, response, other)
                break
        if accepted:
            break
    if accepted is None:
        raise Untestable("no miles exchange was accepted with a configured membership number override")
    pair, response, other = accepted
    ctx.trailer(user)
    ctx.wait_settled([user], min_moves={user: 1})
    evidence: list[Response] = [response]
    for provider, number in saved.items():
        got = ctx.client.get(f"/users/{user}/memberships/{provider}")
        evidence.append(got)
        data = got.data()
        shown = data.get("membership_number") if isinstance(data, dict) else None
        ensure(
            shown == number,
            f"after an exchange with brandB_membership_number {other!r}, the saved {provider} membership "
            f"is {shown!r}, not {number!r}: the override was stored",
            *evidence,
        )
    invalid = ctx.exchange(user, pair, amounts[pair.to_token.id], brandB_membership_number=INVALID_MEMBERSHIP)
    expect_status(invalid, (400,), f"exchange with brandB_membership_number {INVALID_MEMBERSHIP!r}")


@check("EXC-11")
def history_row(ctx: CheckContext) -> None:
    runs = _active_runs(ctx)
    for run in runs:
        kinds = [reconcile.row_type(r) for r in run.exchange_rows()]
        for amount in run.accepted:
            row = run.row_for(amount)
            evidence: list[Response | Exchange] = [run.responses[amount], *exchange_run(ctx).settled.evidence]
            if row is None:
                raise Nonconformity(
                    f"no history row of user {run.user} burns {amount} points (the accepted exchange of "
                    f"{amount} to token {run.pair.to_token.id}); rows of other types: {kinds}",
                    evidence,
                )
            ensure(
                reconcile.row_type(row) == "exchange",
                f"the exchange's history row has loyalty_event_type {row.get('loyalty_event_type')!r}, "
                "not 'exchange'",
                *evidence,
            )
