"""CON: parallel requests on one balance lose nothing and overdraw nothing."""

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
from qiibee_conformance.checks.exchange_run import minimal_amount
from qiibee_conformance.client import Response
from qiibee_conformance.evidence import Exchange
from qiibee_conformance.findings import Nonconformity, Untestable


def _burst(size: int, send: Callable[[int], Response]) -> list[Response]:
    """Send ``size`` requests as close together as threads allow."""
    barrier = threading.Barrier(size)

    def one(i: int) -> Response:
        barrier.wait(timeout=30)
        return send(i)

    with ThreadPoolExecutor(max_workers=size) as pool:
        return list(pool.map(one, range(size)))


def _duplicates(rows: list[dict[str, object]]) -> list[str]:
    ids = [str(reconcile.row_id(r)) for r in rows if reconcile.row_id(r) is not None]
    return sorted(i for i, n in Counter(ids).items() if n > 1)


def _exchange_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The burst's own rows: a target may add reversal or received-points rows of other types."""
    return [r for r in rows if reconcile.row_type(r) == "exchange"]


@check("CON-01")
def exchange_burst(ctx: CheckContext) -> None:
    """Whether a debit happens at acceptance or at settlement is tolerated: a target debiting at
    settlement may accept (202) every exchange of the burst and fail the excess when it settles.
    So what is judged is after settlement: no overdraw, each 202 listed once, and no more
    exchanges succeeded than the funds cover."""
    pair = ctx.simple_pair()
    size = max(2, ctx.settings.burst_size)
    amount = minimal_amount(pair)
    covered = amount * (size // 2)
    user = ctx.new_user("con")
    ctx.fund(user, covered)
    responses = _burst(size, lambda _: ctx.exchange(user, pair, amount))
    # A trailing credit keeps the burst's rows from being the newest (robust to paging faults).
    funded = covered + ctx.trailer(user)
    cover = funded // amount  # the trailing credit may land before the burst settles
    accepted = [r for r in responses if r.status == 202]
    odd = [r for r in responses if r.status not in (202, 400)]
    ensure(
        not odd,
        f"{len(odd)} exchange(s) of the burst got neither 202 nor 400 (first: HTTP {odd[0].status})"
        if odd
        else "",
        *odd[:3],
    )
    settled = ctx.wait_settled([user], min_moves={user: len(accepted)})
    rows = settled.rows.get(user, [])
    moves = _exchange_rows(rows)
    evidence: list[Response | Exchange] = [*accepted[:2], *settled.evidence]
    if not settled.settled:
        raise Untestable("the burst did not settle before the deadline (see SET-01)")
    balance = ctx.balance(user)
    ensure(
        balance >= 0,
        f"after a burst of {size} exchanges of {amount} on a balance of {covered}, the balance is "
        f"{balance}: overdrawn",
        *evidence,
    )
    ensure(
        len(moves) == len(accepted),
        f"{len(accepted)} exchanges were accepted (202) but the user's history "
        f"shows {len(moves)} exchange rows",
        *evidence,
    )
    dupes = _duplicates(rows)
    ensure(not dupes, f"transaction id(s) listed twice in the user's history: {dupes[:5]}", *evidence)
    kept = [r for r in moves if not reconcile.is_failed(r)]
    ensure(
        len(kept) <= cover,
        f"{len(kept)} of {size} parallel exchanges of {amount} did not fail, on a balance of "
        f"{funded} that covers only {cover}",
        *evidence,
    )
    burned = amount * len(kept)
    if balance != funded - burned and ctx.until_balance(user, Decimal(funded - burned)):
        balance = Decimal(funded - burned)  # the trailing credit applied late
    ensure(
        balance == Decimal(funded - burned),
        f"after the burst the balance is {balance}, but {funded} funded "
        f"- {burned} burned by the non-failed exchanges = {funded - burned}",
        *evidence,
    )


@check("CON-02")
def credit_burst(ctx: CheckContext) -> None:
    size = max(2, ctx.settings.burst_size)
    user = ctx.new_user("con")
    responses = _burst(size, lambda i: ctx.points("credit_points", user, i + 1))
    refused = [r for r in responses if r.status != 202]
    if refused:
        raise Nonconformity(
            f"{len(refused)} of {size} parallel credit_points were not accepted "
            f"(first: HTTP {refused[0].status})",
            refused[:3],
        )
    credited = Decimal(size * (size + 1) // 2)
    # Credits may apply after their 202: the debit waits for all of them, or it may be refused.
    reached = ctx.until_balance(user, credited)
    if reached:
        # A trailing debit keeps the credits from being the newest rows (robust to paging faults).
        trailing = ctx.points("debit_points", user, 1)
        if trailing.status != 202:
            raise Untestable(
                f"debit_points of 1 from a balance of {credited} gave {describe(trailing)}; see BAL-02"
            )
    balance = ctx.balance(user)
    rows, evidence = ctx.user_rows(user)
    credits = [r for r in rows if reconcile.row_type(r) == reconcile.CREDIT]
    ensure(
        reached,
        f"{size} parallel credits of 1..{size} total {credited}, but within "
        f"{ctx.settings.settle_timeout:g} s the balance only reached {balance}",
        *responses[:2],
        *evidence,
    )
    ensure(
        ctx.until_balance(user, credited - 1),
        f"{size} parallel credits of 1..{size} and then a debit of 1 should leave {credited - 1}; "
        f"the balance is {ctx.balance(user)}",
        *responses[:2],
        *evidence,
    )
    ensure(
        len(credits) == size,
        f"{size} parallel credits left {len(credits)} credit rows in the history",
        *evidence,
    )
    dupes = _duplicates(rows)
    ensure(not dupes, f"transaction id(s) listed twice: {dupes[:5]}", *evidence)
