"""SET: accepted exchanges settle in time, failures are reversed, balances add up."""

from __future__ import annotations

from decimal import Decimal

from qiibee_conformance import reconcile
from qiibee_conformance.checks.base import check
from qiibee_conformance.checks.context import CheckContext
from qiibee_conformance.checks.exchange_run import PairRun, exchange_run
from qiibee_conformance.findings import Nonconformity, Untestable


def _outcomes(run: PairRun) -> dict[int, str]:
    """Accepted amount → final status of its history row ('' when it has no row)."""
    outcome: dict[int, str] = {}
    for amount in run.accepted:
        row = run.row_for(amount)
        outcome[amount] = reconcile.row_status(row) if row is not None else ""
    return outcome


def _expected_balance(run: PairRun) -> Decimal:
    burned = sum(a for a, status in _outcomes(run).items() if status != "failed")
    return Decimal(run.funded - run.debited - burned)


@check("SET-01")
def settles_in_time(ctx: CheckContext) -> None:
    result = exchange_run(ctx)
    runs = [r for r in result.active() if r.accepted]
    if not runs:
        raise Untestable("no exchange was accepted")
    for run in runs:
        missing = [a for a in run.accepted if run.row_for(a) is None]
        if missing:
            raise Nonconformity(
                f"accepted exchange(s) of {missing} to token {run.pair.to_token.id} "
                "never appeared in the history "
                f"of user {run.user} within {ctx.settings.settle_timeout:g} s",
                [run.responses[missing[0]], *result.settled.evidence],
            )
    if not result.settled.settled:
        raise Nonconformity(
            f"transaction(s) {result.settled.pending()[:10]} still pending {ctx.settings.settle_timeout:g} s "
            "after the 202",
            result.settled.evidence,
        )
    odd = {a: s for r in runs for a, s in _outcomes(r).items() if s not in ("success", "failed")}
    if odd:
        raise Nonconformity(
            f"settled exchanges with a status other than success/failed: {odd}", result.settled.evidence
        )


def _settled_runs(ctx: CheckContext) -> list[PairRun]:
    result = exchange_run(ctx)
    if not result.settled.settled:
        raise Untestable("the exchanges did not settle before the deadline (see SET-01)")
    return [r for r in result.active() if r.accepted and all(r.row_for(a) for a in r.accepted)]


@check("SET-02")
def failed_exchange_reversed(ctx: CheckContext) -> None:
    failing = [r for r in _settled_runs(ctx) if "failed" in _outcomes(r).values()]
    if not failing:
        raise Untestable("no exchange failed on the target, so no reversal could be observed")
    for run in failing:
        expected = _expected_balance(run)
        if run.balance != expected:
            lost = [a for a, s in _outcomes(run).items() if s == "failed"]
            raise Nonconformity(
                f"user {run.user} was funded {run.funded}, debited {run.debited}; "
                f"its exchange(s) of {lost} to "
                f"token {run.pair.to_token.id} failed, so the balance should be {expected}, but it is "
                f"{run.balance}: the failed exchange was not reversed",
                exchange_run(ctx).settled.evidence,
            )


@check("SET-03")
def balance_adds_up(ctx: CheckContext) -> None:
    runs = [r for r in _settled_runs(ctx) if "failed" not in _outcomes(r).values()]
    if not runs:
        raise Untestable("every pair had a failed exchange; see SET-02")
    for run in runs:
        expected = _expected_balance(run)
        if run.balance != expected:
            raise Nonconformity(
                f"user {run.user}: credited {run.funded}, debited {run.debited}, exchanged {run.accepted} to "
                f"token {run.pair.to_token.id} (all settled); balance should be {expected}, is {run.balance}",
                exchange_run(ctx).settled.evidence,
            )
