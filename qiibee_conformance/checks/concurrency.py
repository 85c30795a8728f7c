"""CON: parallel requests on one balance lose nothing, overdraw nothing, count nothing twice.

Balances are judged by their change (a new user may start with a bonus, D27), exchange
rows by what they move (D163), and everything after settlement (D161): a target that
debits at settlement may accept a whole burst and fail the excess when it settles (D101).
A 429 inside a burst is waited out by the transport (D18).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from qiibee_conformance import reconcile
from qiibee_conformance.checks.base import check, describe, ensure
from qiibee_conformance.checks.context import CheckContext
from qiibee_conformance.checks.exchange_run import (
    SPARE,
    distinct_amounts,
    duplicate_ids,
    exact_user,
    exchange_rows,
    history_burned,
    minimal_amount,
)
from qiibee_conformance.checks.target import Settled
from qiibee_conformance.client import Response
from qiibee_conformance.discovery import Pair
from qiibee_conformance.evidence import Exchange
from qiibee_conformance.findings import Nonconformity, Untestable

Evidence = Response | Exchange


def _burst(size: int, send: Callable[[int], Response]) -> list[Response]:
    """Send ``size`` requests as close together as threads allow."""
    barrier = threading.Barrier(size)

    def one(i: int) -> Response:
        barrier.wait(timeout=30)
        return send(i)

    with ThreadPoolExecutor(max_workers=size) as pool:
        return list(pool.map(one, range(size)))


def _after_settlement(ctx: CheckContext, user: str, accepted: int) -> Settled:
    """The user's history once nothing is in flight. Rows that never appear (fewer exchange rows
    than 202s) are judged, not waited for forever: only a row still in flight is untestable."""
    settled = ctx.api.wait_settled([user], min_moves={user: accepted})
    rows = settled.rows.get(user, [])
    if not settled.settled and any(reconcile.is_pending(r) for r in rows):
        raise Untestable("the burst did not settle before the deadline (see SET-01)")
    return settled


def _final_balance(ctx: CheckContext, user: str, expected: Decimal) -> Decimal:
    """The balance, waiting a little for a trailing credit that applies after its 202 (D162)."""
    balance = ctx.api.balance(user)
    if balance != expected and ctx.api.until_balance(user, expected):
        return expected
    return balance


@check("CON-01")
def exchange_burst(ctx: CheckContext) -> None:
    """No overdraw, each 202 once in the history (D80), and no more exchanges kept than the
    funds cover, judged after settlement (D161)."""
    pair = ctx.api.simple_pair()
    size = max(2, ctx.settings.burst_size)
    amount = minimal_amount(pair)
    covered = amount * (size // 2)
    user = exact_user(ctx, covered, "con")  # a sign-up bonus is cleared: the funds are what is covered
    responses = _burst(size, lambda _: ctx.api.exchange(user, pair, amount))
    # A trailing credit keeps the burst's rows from being the newest (robust to paging faults).
    funded = covered + ctx.api.trailer(user)
    cover = funded // amount  # the trailing credit may land before the burst settles
    accepted = [r for r in responses if r.status == 202]
    odd = [r for r in responses if r.status not in (202, 400)]
    ensure(
        not odd,
        f"{len(odd)} exchange(s) of the burst got neither 202 nor 400 (first: {describe(odd[0])})"
        if odd
        else "",
        *odd[:3],
    )
    settled = _after_settlement(ctx, user, len(accepted))
    rows = settled.rows.get(user, [])
    moves = exchange_rows(rows, pair, amount)
    evidence: list[Evidence] = [*accepted[:2], *settled.evidence]
    balance = ctx.api.balance(user)
    ensure(
        balance >= 0,
        f"after a burst of {size} exchanges of {amount} on a balance of {covered}, the balance is "
        f"{balance}: overdrawn",
        *evidence,
    )
    ensure(
        len(moves) == len(accepted),
        f"{len(accepted)} exchanges were accepted (202) but the user's history shows {len(moves)} "
        f"exchange rows of {amount}",
        *evidence,
    )
    dupes = duplicate_ids(rows)
    ensure(not dupes, f"transaction id(s) listed twice in the user's history: {dupes[:5]}", *evidence)
    kept = [r for r in moves if not reconcile.is_failed(r)]
    ensure(
        len(kept) <= cover,
        f"{len(kept)} of {size} parallel exchanges of {amount} did not fail, on a balance of "
        f"{funded} that covers only {cover}",
        *evidence,
    )
    expected = Decimal(funded - amount * len(kept))
    balance = _final_balance(ctx, user, expected)
    ensure(
        balance == expected,
        f"after the burst the balance is {balance}, but {funded} funded "
        f"- {amount * len(kept)} burned by the non-failed exchanges = {expected}",
        *evidence,
    )


@check("CON-02")
def credit_burst(ctx: CheckContext) -> None:
    size = max(2, ctx.settings.burst_size)
    user = ctx.api.new_user("con")
    start = ctx.api.balance(user)  # a sign-up bonus is tolerated (D27): the credits are judged on top
    before, _ = ctx.api.user_rows(user)
    responses = _burst(size, lambda i: ctx.api.points("credit_points", user, i + 1))
    refused = [r for r in responses if r.status != 202]
    if refused:
        raise Nonconformity(
            f"{len(refused)} of {size} parallel credit_points were not accepted "
            f"(first: {describe(refused[0])})",
            refused[:3],
        )
    credited = Decimal(size * (size + 1) // 2)
    # Credits may apply after their 202: the debit waits for all of them, or it may be refused.
    reached = ctx.api.until_balance(user, start + credited)
    if reached:
        # A trailing debit keeps the credits from being the newest rows (robust to paging faults).
        trailing = ctx.api.points("debit_points", user, 1)
        if trailing.status != 202:
            raise Untestable(
                f"debit_points of 1 from a balance of {start + credited} gave {describe(trailing)}; "
                "see BAL-02"
            )
    balance = ctx.api.balance(user)
    ensure(
        reached,
        f"{size} parallel credits of 1..{size} total {credited}, but within "
        f"{ctx.settings.settle_timeout:g} s the balance only moved from {start} to {balance}",
        *responses[:2],
    )
    ensure(
        ctx.api.until_balance(user, start + credited - 1),
        f"{size} parallel credits of 1..{size} and then a debit of 1 should move the balance from {start} "
        f"to {start + credited - 1}; it is {ctx.api.balance(user)}",
        *responses[:2],
    )
    _credits_listed_once(ctx, user, size, before)


def _credits_listed_once(ctx: CheckContext, user: str, size: int, before: list[dict[str, Any]]) -> None:
    """Each credit of the burst (amounts 1..size) is one row: none lost, none listed twice. Rows
    the user had before the burst (a bonus) are set aside by their amounts; rows may show up
    after the balance did (D162), so the history is polled until every amount is there."""
    earlier = _credit_amounts(before)
    seen: dict[str, Any] = {}

    def counted() -> bool:
        rows, evidence = ctx.api.user_rows(user)
        now = _credit_amounts(rows)
        seen.update(rows=rows, evidence=evidence, counts={i: now[i] - earlier[i] for i in range(1, size + 1)})
        return all(n >= 1 for n in seen["counts"].values())

    ctx.poll(counted)
    wrong = {i: n for i, n in seen["counts"].items() if n != 1}
    ensure(
        not wrong,
        f"{size} parallel credits of 1..{size}: the history shows these amounts a wrong number of times "
        f"(amount: rows) {dict(list(wrong.items())[:8])}",
        *seen["evidence"],
    )
    dupes = duplicate_ids(seen["rows"])
    ensure(not dupes, f"transaction id(s) listed twice: {dupes[:5]}", *seen["evidence"])


def _credit_amounts(rows: list[dict[str, Any]]) -> Counter[int]:
    amounts: Counter[int] = Counter()
    for row in rows:
        if reconcile.row_type(row) == reconcile.CREDIT:
            value = reconcile.row_number(row, "amount_received", "amount", "points")
            if value is not None and value.denominator == 1:
                amounts[int(value)] += 1
    return amounts


@check("CON-03")
def burst_reconciles(ctx: CheckContext) -> None:
    """After a burst the balance reconciles with the history, and distinct acceptances are
    distinct transactions (D77): a burst of different amounts, all covered, each 202 its own row."""
    pair = ctx.api.simple_pair()
    amounts = distinct_amounts(pair, max(2, ctx.settings.burst_size))
    if len(amounts) < 2:
        raise Untestable("fewer than two different amounts fit the simple pair's USD limits")
    user = ctx.api.new_user("con")
    ctx.api.fund(user, sum(amounts) + SPARE)
    start = ctx.api.balance(user)
    responses = _burst(len(amounts), lambda i: ctx.api.exchange(user, pair, amounts[i]))
    accepted = {a: r for a, r in zip(amounts, responses, strict=True) if r.status == 202}
    if len(accepted) < 2:
        raise Untestable(
            f"fewer than two exchanges of the burst were accepted (first: {describe(responses[0])})"
        )
    trailer = ctx.api.trailer(user)
    settled = _after_settlement(ctx, user, len(accepted))
    rows = settled.rows.get(user, [])
    evidence: list[Evidence] = [*list(accepted.values())[:2], *settled.evidence]
    _each_accepted_once(rows, pair, accepted, evidence)
    dupes = duplicate_ids(rows)
    ensure(not dupes, f"transaction id(s) listed twice in the user's history: {dupes[:5]}", *evidence)
    _balance_reconciles(ctx, user, pair, rows, start + trailer, evidence)


def _each_accepted_once(
    rows: list[dict[str, Any]], pair: Pair, accepted: dict[int, Response], evidence: list[Evidence]
) -> None:
    counts = {a: len(exchange_rows(rows, pair, a)) for a in accepted}
    wrong = {a: n for a, n in counts.items() if n != 1}
    ensure(
        not wrong,
        f"{len(accepted)} parallel exchanges of different amounts were accepted (202), but the history "
        f"shows these amounts a wrong number of times (amount: rows) {dict(list(wrong.items())[:8])}: "
        "distinct acceptances must be distinct transactions",
        *evidence,
    )


def _balance_reconciles(
    ctx: CheckContext,
    user: str,
    pair: Pair,
    rows: list[dict[str, Any]],
    base: Decimal,
    evidence: list[Evidence],
) -> None:
    """The balance must be the one before the burst + the trailing credit − what the history shows
    burned."""
    burned = history_burned(rows, pair)
    if burned is None:
        raise Untestable("an exchange history row does not show the points it burned (see EXC-11)")
    expected = base - Decimal(burned.numerator) / Decimal(burned.denominator)
    balance = _final_balance(ctx, user, expected)
    ensure(
        balance == expected,
        f"after the burst the balance is {balance}, but the history shows exchanges burning {burned} "
        f"from {base} (the balance before it, with the trailing credit): expected {expected}",
        *evidence,
        expected=str(expected),
        actual=str(balance),
    )
