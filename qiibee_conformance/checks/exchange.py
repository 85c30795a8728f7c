"""EXC: exchanging points along the whitelist, exactly as the documents compute it.

Balances are judged by their change (a new user may start with a bonus, D27), statuses
by their family (D74), and exchange rows by what they move (D163): only EXC-11 cares
that the row is typed "exchange", and only as an advisory (D73).
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

from qiibee_conformance import reconcile
from qiibee_conformance.checks.base import advise, check, describe, ensure, expect_4xx, expect_status
from qiibee_conformance.checks.context import CheckContext
from qiibee_conformance.checks.exchange_run import (
    EXCHANGE,
    SPARE,
    PairRun,
    amounts_strictly_inside_limits,
    exact_user,
    exchange_row,
    exchange_rows,
    exchange_run,
    minimal_amount,
)
from qiibee_conformance.checks.outcome import file_note
from qiibee_conformance.client import Response
from qiibee_conformance.discovery import Catalogue, Pair, Token, parse_rate
from qiibee_conformance.evidence import Exchange
from qiibee_conformance.findings import Level, Nonconformity, Untestable
from qiibee_conformance.money import number_equals, received_amount

# Overrides exact in binary floating point, so a float-parsing target computes them right too.
OVERRIDES = (Fraction(5, 2), Fraction(1, 2), Fraction(3, 2), Fraction(4), Fraction(1, 4))
INVALID_MEMBERSHIP = "ABCDEFGHIJKL"
# Token types whose received amount the documents define (D63); for the others it is a reading (D64).
EXACT_TYPES = frozenset({"erc20", "miles"})
Evidence = Response | Exchange


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


# EXC-02 --------------------------------------------------------------------------------------
@check("EXC-02")
def one_way(ctx: CheckContext) -> None:
    """Judged in every direction the suite can fund (D60): the reverse of brand → X needs points
    of X (received in an exchange, or credited if the key may); the reverse of an inbound
    X → brand needs brand points only."""
    catalogue = ctx.catalogue
    tested: list[str] = []
    untested: list[str] = []
    outbound = catalogue.one_way_pairs()
    holders = _holders(ctx, [p.to_token for p in outbound])
    for pair in outbound:
        holder = holders.get(pair.to_token.id)
        if holder is None:
            untested.append(f"{pair.to_token.id}→{pair.from_token.id} (cannot hold token {pair.to_token.id})")
            continue
        user, held = holder
        _refused_reverse(ctx, user, pair, held, f"the user holds {held} points of token {pair.to_token.id}")
        tested.append(f"{pair.to_token.id}→{pair.from_token.id}")
    for pair in _inbound_one_way(catalogue):
        amount = _reverse_amount(pair.to_token, pair.from_token)
        user = ctx.api.new_user("x")
        ctx.api.fund(user, amount + SPARE)
        _refused_reverse(ctx, user, pair, ctx.api.balance(user), "the user holds enough brand points")
        tested.append(f"{pair.to_token.id}→{pair.from_token.id}")
    if not tested:
        raise Untestable(
            "no reverse of a one-way pair could be tried: "
            + ("; ".join(untested) or "the whitelist has no one-way pair to or from the brand token")
        )
    if untested:
        file_note("reverses not tried: " + "; ".join(untested))


def _inbound_one_way(catalogue: Catalogue) -> list[Pair]:
    """Active pairs X → brand whose reverse brand → X is not listed (one per X)."""
    brand = catalogue.brand_token.id
    found: dict[int, Pair] = {}
    for pair in catalogue.pairs:
        source = pair.from_token.id
        inbound = pair.active and pair.to_token.id == brand and source != brand
        if inbound and catalogue.pair(brand, source) is None:
            found.setdefault(source, pair)
    return list(found.values())


def _holders(ctx: CheckContext, tokens: list[Token]) -> dict[int, tuple[str, Decimal]]:
    """Users holding points of ``tokens``: from the exchange round, else one new user credited
    with each token the key may credit (credits may apply after their 202: one wait for all)."""
    found: dict[int, tuple[str, Decimal]] = {}
    for run in exchange_run(ctx).active():
        if run.partner_balance and run.partner_balance > 0:
            found.setdefault(run.pair.to_token.id, (run.user, run.partner_balance))
    missing = {t.id: t for t in tokens if t.id not in found}
    if not missing:
        return found
    user = ctx.api.new_user("x")
    wanted: dict[int, Decimal] = {}
    for token in missing.values():
        before = ctx.api.read_balance(user, token.id)
        if not isinstance(before, Decimal):
            continue
        amount = max(SPARE, _reverse_amount(token, ctx.catalogue.brand_token))
        if ctx.api.points("credit_points", user, amount, token.id).status == 202:
            wanted[token.id] = before + amount
    if wanted:
        ctx.poll(lambda: all(ctx.api.balance(user, t) >= held for t, held in wanted.items()))
    for token_id, held in wanted.items():
        if ctx.api.balance(user, token_id) >= held:
            found[token_id] = (user, held)
    return found


def _reverse_amount(source: Token, target: Token) -> int:
    """An amount of ``source`` that would receive at least one ``target`` unit, were it allowed."""
    if source.offramp and target.onramp:
        return max(1, min(2000, math.ceil(target.onramp / source.offramp)))
    return 1


def _refused_reverse(ctx: CheckContext, user: str, pair: Pair, held: Decimal, note: str) -> None:
    """The exchange pair.to → pair.from is not listed: 400, and the balance stays (D60, D71)."""
    source, target = pair.to_token, pair.from_token
    amount = max(1, min(int(held), _reverse_amount(source, target)))
    before = ctx.api.balance(user, source.id)
    response = ctx.api.exchange(user, (source.id, target.id), amount)
    expect_status(
        response,
        (400,),
        f"exchange of {amount} from token {source.id} to token {target.id}: only "
        f"{pair.from_token.id}→{pair.to_token.id} is whitelisted ({note})",
    )
    after = ctx.api.balance(user, source.id)
    ensure(
        after == before,
        f"a refused exchange from token {source.id} changed that balance from {before} to {after}",
        response,
    )


# EXC-03 --------------------------------------------------------------------------------------
@check("EXC-03")
def received_amount_exact(ctx: CheckContext) -> None:
    """floor(amount × A.offramp ÷ B.onramp) exactly: fail for points and miles (D63), an
    advisory for other targets (D64). Judged on exchanges that settled as a success."""
    checked = 0
    for run in _active_runs(ctx):
        for amount in run.accepted:
            row = run.row_for(amount)
            if row is None or reconcile.settlement_state(row) != reconcile.SETTLED_SUCCESS:
                continue  # a missing row is EXC-11's and SET-01's; a failed one received nothing
            got = row.get("amount_received")
            if got is None:
                continue
            checked += 1
            if not _received_right(run, amount, got):
                break  # one advisory per pair is enough
    if not checked:
        raise Untestable("no history row of an exchange settled as a success showed amount_received")


def _received_right(run: PairRun, amount: int, got: object) -> bool:
    expected = received_amount(amount, run.rate)
    if number_equals(got, expected):
        return True
    pair = run.pair
    message = (
        f"exchange of {amount} from token {pair.from_token.id} (offramp "
        f"{pair.from_token.raw.get('offramp')}) to {pair.to_token.type or 'untyped'} token "
        f"{pair.to_token.id} (onramp {pair.to_token.raw.get('onramp')}) received {got!r}; "
        f"floor({amount} × {run.rate}) = {expected}"
    )
    evidence = [run.responses[amount]]
    if pair.to_token.type in EXACT_TYPES:
        raise Nonconformity(message, evidence, expected=str(expected), actual=repr(got))
    return advise(False, message, *evidence, decision="D64", expected=str(expected), actual=repr(got))


# EXC-04 --------------------------------------------------------------------------------------
def _override_plan(pair: Pair) -> tuple[int, int, Fraction]:
    """(baseline amount, override amount, override): the override changes the baseline's result,
    amount × override is a whole number so rounding mistakes cannot interfere, and both amounts
    lie strictly inside the pair's USD limits (which a target may enforce)."""
    offramp, onramp = pair.from_token.offramp, pair.to_token.onramp
    assert offramp is not None and onramp
    rate = offramp / onramp
    low, high = amounts_strictly_inside_limits(pair)
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


@check("EXC-04")
def rate_override_not_stored(ctx: CheckContext) -> None:
    pair = ctx.api.simple_pair()
    base, amount, override = _override_plan(pair)
    user = ctx.api.new_user("x")
    ctx.api.fund(user, 2 * base + amount + 1)  # one spare: spending the whole balance is EXC-05's
    first = ctx.api.exchange(user, pair, base)
    with_override = ctx.api.exchange(user, pair, amount, exchange_rate_override=float(override))
    again = ctx.api.exchange(user, pair, base)
    ctx.api.trailer(user)
    for response, what in (
        (first, "exchange"),
        (with_override, "exchange with exchange_rate_override"),
        (again, "the same exchange after the override"),
    ):
        expect_status(response, (202,), what)
    settled = ctx.api.wait_settled([user], min_moves={user: 3})
    rows = settled.rows.get(user, [])
    evidence: list[Evidence] = [first, with_override, again, *settled.evidence]
    over = exchange_rows(rows, pair, amount)
    plain = exchange_rows(rows, pair, base)
    if len(over) != 1 or len(plain) != 2:
        raise Untestable("the three exchanges are not all in the history (see EXC-11/SET-01)")
    if any(reconcile.settlement_state(r) != reconcile.SETTLED_SUCCESS for r in [*over, *plain]):
        raise Untestable("the three exchanges did not all settle as a success (see SET-01/SET-02)")
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


# EXC-05..08 ----------------------------------------------------------------------------------
def _funded_user(ctx: CheckContext, amount: int) -> tuple[str, Decimal]:
    """A new user funded with ``amount``, and the balance it then holds (a bonus included)."""
    user = ctx.api.new_user("x")
    ctx.api.fund(user, amount)
    return user, ctx.api.balance(user)


@check("EXC-05")
def insufficient_balance(ctx: CheckContext) -> None:
    pair = ctx.api.simple_pair()
    amount = minimal_amount(pair)
    user = exact_user(ctx, amount)  # a sign-up bonus is cleared: the balance is exactly the amount
    response = ctx.api.exchange(user, pair, amount + 1)
    expect_status(response, (400,), f"exchange of {amount + 1} with a balance of {amount}")
    balance = ctx.api.balance(user)
    ensure(balance == amount, f"a refused exchange changed the balance from {amount} to {balance}", response)
    # Only "more points than the user currently has" is refused: the whole balance is not more.
    whole = ctx.api.exchange(user, pair, amount)
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
    if not ctx.api.wait_settled([user], min_moves={user: 1}).settled:
        raise Untestable("the exchange did not settle before the deadline (see SET-01)")
    return ctx.api.balance(user)


@check("EXC-06")
def unknown_user(ctx: CheckContext) -> None:
    pair = ctx.api.simple_pair()
    response = ctx.api.exchange(f"qc-unknown-{ctx.settings.run_id}", pair, minimal_amount(pair))
    expect_status(response, (400,), "exchange for a user that does not exist")


@check("EXC-07")
def unknown_token(ctx: CheckContext) -> None:
    pair = ctx.api.simple_pair()
    amount = minimal_amount(pair)
    user, _ = _funded_user(ctx, amount * 2)
    bogus = ctx.catalogue.unused_token_id()
    expect_status(
        ctx.api.exchange(user, (pair.from_token.id, bogus), amount),
        (400,),
        f"exchange to token {bogus}, which does not exist",
    )
    expect_status(
        ctx.api.exchange(user, (bogus, pair.to_token.id), amount),
        (400,),
        f"exchange from token {bogus}, which does not exist",
    )


@check("EXC-08")
def amount_forms(ctx: CheckContext) -> None:
    """Decimals and fractions: 400 (D61); zero and negatives: a 4xx (D62); a boolean: a 4xx
    (D167); a digit string: accepted. No refused request moves the balance."""
    pair = ctx.api.simple_pair()
    low = minimal_amount(pair)
    user, held = _funded_user(ctx, 4 * low + 10)
    for amount in (low + 0.5, f"{low}.5", f"{2 * low + 1}/2"):
        expect_status(ctx.api.exchange(user, pair, amount), (400,), f"exchange with amount {amount!r}")
    for amount in (0, "0", -low, f"-{low}"):
        expect_4xx(ctx.api.exchange(user, pair, amount), f"exchange with amount {amount!r}")
    _boolean_amount_refused(ctx, user, pair, held)
    expect_status(
        ctx.api.exchange(user, pair, str(low)), (202,), f"exchange with amount {str(low)!r} (digit string)"
    )


def _boolean_amount_refused(ctx: CheckContext, user: str, pair: Pair, held: Decimal) -> None:
    """JSON true is neither an integer nor a string of digits (a wrong type: a 4xx), even where a
    language reads it as 1; the refused requests leave the balance as it was."""
    response = ctx.api.exchange(user, pair, True)
    expect_4xx(response, "exchange with amount true (a boolean, not an integer or a string of digits)")
    balance = ctx.api.balance(user)
    ensure(
        balance == held,
        f"after exchanges with invalid amounts were refused, the balance is {balance}, not {held}",
        response,
    )


# Miles: EXC-09, EXC-10, EXC-12 -------------------------------------------------------------------
def _miles_pairs(ctx: CheckContext) -> list[Pair]:
    pairs = list(ctx.catalogue.pairs_of_type("miles"))
    if not pairs:
        raise Untestable("the whitelist has no active pair from the brand token to a miles token")
    return pairs


@check("EXC-09")
def miles_need_membership(ctx: CheckContext) -> None:
    """With neither a saved membership nor an override: 400 (warn, D69); a 202 that then fails
    and is reversed is tolerated; one that settles as a success is a failure (D70)."""
    for pair in _miles_pairs(ctx):
        _without_membership(ctx, pair)


def _without_membership(ctx: CheckContext, pair: Pair) -> None:
    amount = minimal_amount(pair)
    user, held = _funded_user(ctx, amount + SPARE)
    what = f"exchange of {amount} to miles token {pair.to_token.id} with no saved membership and no override"
    response = ctx.api.exchange(user, pair, amount)
    if response.status >= 500:
        raise Nonconformity(f"{what}: {describe(response)}", [response], level=Level.FAIL)
    if response.status != 202:
        advise(
            response.status == 400,
            f"{what}: expected HTTP 400, got {describe(response)}",
            response,
            decision="D69",
            expected="HTTP 400",
            actual=f"HTTP {response.status}",
        )
        return
    settled = ctx.api.wait_settled([user], min_moves={user: 1})
    row = exchange_row(settled.rows.get(user, []), pair, amount)
    evidence: list[Evidence] = [response, *settled.evidence]
    if row is None:
        raise Untestable(f"{what} was accepted, and no history row shows it (see EXC-11, SET-01)")
    if reconcile.is_pending(row):
        raise Untestable(f"{what} was accepted and did not settle before the deadline (see SET-01)")
    if reconcile.settlement_state(row) == reconcile.SETTLED_SUCCESS:
        raise Nonconformity(
            f"{what} was accepted and settled as a success: miles credited to no account",
            evidence,
            level=Level.FAIL,
        )
    balance = held if ctx.api.until_balance(user, held) else ctx.api.balance(user)  # a reversal may lag
    if balance != held:
        raise Nonconformity(
            f"{what} was accepted and failed, but the balance is {balance}, not the {held} held before "
            "it: the failed exchange was not reversed",
            evidence,
            level=Level.FAIL,
        )


@check("EXC-10")
def membership_override(ctx: CheckContext) -> None:
    pairs = _miles_pairs(ctx)
    user = ctx.api.new_user("x")
    saved = ctx.api.save_memberships(user)
    if not saved:
        raise Untestable("no membership could be saved: no valid number configured (membership_numbers)")
    amounts = {p.to_token.id: minimal_amount(p) for p in pairs}
    ctx.api.fund(user, 2 * sum(amounts.values()) + 1)
    accepted: tuple[Pair, Response, str] | None = None
    for pair in pairs:
        for provider, numbers in ctx.settings.membership_numbers.items():
            if provider not in saved:
                continue
            other = next((n for n in numbers if n != saved[provider]), saved[provider])
            response = ctx.api.exchange(user, pair, amounts[pair.to_token.id], brandB_membership_number=other)
            if response.status == 202:
                accepted = (pair, response, other)
                break
        if accepted:
            break
    if accepted is None:
        raise Untestable("no miles exchange was accepted with a configured membership number override")
    pair, response, other = accepted
    ctx.api.trailer(user)
    ctx.api.wait_settled([user], min_moves={user: 1})
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
    invalid = ctx.api.exchange(
        user, pair, amounts[pair.to_token.id], brandB_membership_number=INVALID_MEMBERSHIP
    )
    expect_status(invalid, (400,), f"exchange with brandB_membership_number {INVALID_MEMBERSHIP!r}")


@check("EXC-12")
def override_alone_suffices(ctx: CheckContext) -> None:
    """A valid number in brandB_membership_number and no saved membership is accepted and does
    not fail for want of one ("you can send it with every request", D68). Tried on the miles
    tokens the exchange round exchanged to successfully with the same configured numbers saved,
    so a refusal cannot be a number that does not fit the token."""
    miles = _miles_pairs(ctx)
    numbers = [(p, n[0]) for p, n in ctx.settings.membership_numbers.items() if n]
    # Settled as a success with the configured numbers saved: one of them fits the token (with
    # neither a membership nor an override an exchange never succeeds, D70).
    proven = [
        r
        for r in exchange_run(ctx).active()
        if r.pair in miles and reconcile.SETTLED_SUCCESS in r.outcomes().values()
    ]
    if not numbers or not proven:
        raise Untestable(
            "no miles exchange succeeded with a saved membership of a configured number "
            "(membership_numbers), so no number is known to fit a miles token"
        )
    for run in proven:
        _override_alone(ctx, run, numbers)


def _override_alone(ctx: CheckContext, proof: PairRun, numbers: list[tuple[str, str]]) -> None:
    """Each configured number in turn, each by a new user with no membership: done at the first
    that succeeds. A number of another provider may be refused, or accepted and then fail (and
    be reversed), so only when every one of them is refused or fails is it a finding."""
    pair = proof.pair
    amount = minimal_amount(pair)
    tried: list[Evidence] = []
    failed = False
    for _provider, number in numbers:
        user, _ = _funded_user(ctx, amount + SPARE)
        response = ctx.api.exchange(user, pair, amount, brandB_membership_number=number)
        tried.append(response)
        if response.status != 202:
            continue
        settled = ctx.api.wait_settled([user], min_moves={user: 1})
        row = exchange_row(settled.rows.get(user, []), pair, amount)
        if row is None or reconcile.is_pending(row):
            raise Untestable("the exchange with brandB_membership_number alone did not settle (see SET-01)")
        if not reconcile.is_failed(row):
            return
        failed = True
        tried.extend(settled.evidence)
    shown = ", ".join(repr(n) for _, n in numbers)
    outcome = "failed when it settled" if failed else f"was refused ({describe(response)})"
    raise Nonconformity(
        f"exchange of {amount} to miles token {pair.to_token.id} with brandB_membership_number ({shown}) "
        f"and no saved membership {outcome}, though the same exchange with the number saved succeeds",
        [*tried, *proof.responses.values()][:6],
    )


# EXC-11 --------------------------------------------------------------------------------------
@check("EXC-11")
def history_row(ctx: CheckContext) -> None:
    """After a 202 the exchange is in the history burning the amount (D72); that its type is
    "exchange" is the reading of the example (D73: another name is an advisory)."""
    mistyped: list[str] = []
    evidence: list[Evidence] = []
    for run in _active_runs(ctx):
        kinds = sorted({reconcile.row_type(r) for r in run.exchange_rows()})
        for amount in run.accepted:
            row = run.row_for(amount)
            shown: list[Evidence] = [run.responses[amount], *exchange_run(ctx).settled.evidence]
            if row is None:
                raise Nonconformity(
                    f"no history row of user {run.user} burns {amount} points (the accepted exchange of "
                    f"{amount} to token {run.pair.to_token.id}); rows of other types: {kinds}",
                    shown,
                )
            if reconcile.row_type(row) != EXCHANGE:
                mistyped.append(repr(row.get("loyalty_event_type")))
                evidence = evidence or shown
    advise(
        not mistyped,
        f"exchange history rows have loyalty_event_type {', '.join(sorted(set(mistyped)))}, not 'exchange'",
        *evidence,
        decision="D73",
        expected="'exchange'",
        actual=", ".join(sorted(set(mistyped))),
    )
