"""SET: accepted exchanges appear and settle, failures are reversed, balances add up.

Read from the shared exchange round. Status names are the target's (D74: "success" is
the documented one; ``reconcile.settlement_state`` reads the in-flight and failed
families); balances by their change since each user was funded (D27); a reversal by
the balance, however the history shows it (D76).
"""

from __future__ import annotations

from decimal import Decimal

from qiibee_conformance import reconcile
from qiibee_conformance.checks.base import advise, check, ensure
from qiibee_conformance.checks.context import CheckContext
from qiibee_conformance.checks.exchange_run import (
    PairRun,
    duplicate_ids,
    exchange_run,
    history_burned,
    history_debited,
)
from qiibee_conformance.findings import Nonconformity, Untestable
from qiibee_conformance.money import to_decimal

SUCCESS, FAILED = reconcile.SETTLED_SUCCESS, reconcile.SETTLED_FAILED


@check("SET-01")
def settles_in_time(ctx: CheckContext) -> None:
    """Every 202 appears in the history (D72) and reaches a final status: not within the suite's
    default deadline is an advisory (D78), within one the user set a failure (D79)."""
    result = exchange_run(ctx)
    runs = [r for r in result.active() if r.accepted]
    if not runs:
        raise Untestable("no exchange was accepted")
    timeout = ctx.settings.settle_timeout
    for run in runs:
        missing = [a for a in run.accepted if run.row_for(a) is None]
        if missing:
            raise Nonconformity(
                f"accepted exchange(s) of {missing} to token {run.pair.to_token.id} never appeared in the "
                f"history of user {run.user} within {timeout:g} s",
                [run.responses[missing[0]], *result.settled.evidence],
            )
    if result.settled.settled:
        return
    rows = [r for run in runs for r in run.rows if reconcile.is_pending(r)]
    names = sorted({reconcile.row_status(r) for r in rows})
    message = (
        f"transaction(s) {result.settled.pending()[:10]} still not final (status {', '.join(names)}) "
        f"{timeout:g} s after the 202"
    )
    if ctx.settings.settle_deadline_chosen:
        raise Nonconformity(f"{message}, the deadline set with settle_timeout", result.settled.evidence)
    advise(
        False,
        f"{message}, the suite's default deadline (set --settle-timeout to make it a requirement)",
        *result.settled.evidence,
        decision="D78",
    )


def _settled_runs(ctx: CheckContext) -> list[PairRun]:
    result = exchange_run(ctx)
    if not result.settled.settled:
        raise Untestable("the exchanges did not settle before the deadline (see SET-01)")
    return [r for r in result.active() if r.accepted and all(r.row_for(a) for a in r.accepted)]


def _moved(ctx: CheckContext, run: PairRun, expected: Decimal) -> Decimal | None:
    """How far the balance moved since funding. A reversal may be initiated after the failed status
    shows, and a move may apply after its 202 (D162): a balance not yet where expected is polled
    until the deadline before it is judged."""
    start = run.start_balance
    if run.moved() != expected and start is not None and ctx.api.until_balance(run.user, start + expected):
        run.balance = start + expected
    return run.moved()


def _by_the_suite(run: PairRun) -> Decimal:
    """How the balance must have moved since funding: the trailing debit and every exchange that
    did not fail (a failed one is reversed, or never debited: D75, D101)."""
    kept = sum(a for a, state in run.outcomes().items() if state != FAILED)
    return Decimal(-run.debited - kept)


@check("SET-02")
def failed_exchange_reversed(ctx: CheckContext) -> None:
    failing = [r for r in _settled_runs(ctx) if FAILED in r.outcomes().values()]
    if not failing:
        raise Untestable("no exchange failed on the target, so no reversal could be observed")
    for run in failing:
        expected = _by_the_suite(run)
        moved = _moved(ctx, run, expected)
        if moved != expected:
            lost = [a for a, s in run.outcomes().items() if s == FAILED]
            raise Nonconformity(
                f"user {run.user} held {run.start_balance} once funded, then was debited {run.debited}; its "
                f"exchange(s) of {lost} to token {run.pair.to_token.id} failed, so the balance should have "
                f"moved by {expected}, but it moved by {moved} (now {run.balance}): the failed exchange was "
                "not reversed",
                exchange_run(ctx).settled.evidence,
                expected=str(expected),
                actual=str(moved),
            )


@check("SET-03")
def balance_adds_up(ctx: CheckContext) -> None:
    """After settlement the balance moved by exactly what the history shows (D77): the debits
    and the exchanges it lists, each once; and by what the suite did."""
    runs = [r for r in _settled_runs(ctx) if FAILED not in r.outcomes().values()]
    if not runs:
        raise Untestable("every pair had a failed exchange; see SET-02")
    evidence = exchange_run(ctx).settled.evidence
    judged = 0
    for run in runs:
        dupes = duplicate_ids(run.rows)
        ensure(
            not dupes, f"transaction id(s) listed twice in user {run.user}'s history: {dupes[:5]}", *evidence
        )
        burned = history_burned(run.rows, run.pair)
        if burned is None:
            continue  # a row without its amount is EXC-11's finding
        judged += 1
        shown = to_decimal(-history_debited(run.rows, ctx.brand_token_id) - burned)
        moved = _moved(ctx, run, shown)
        ensure(
            moved == shown,
            f"user {run.user}: since funding the balance moved by {moved}, but the history shows debits and "
            f"exchanges to token {run.pair.to_token.id} worth {shown}",
            *evidence,
            expected=str(shown),
            actual=str(moved),
        )
        expected = _by_the_suite(run)
        ensure(
            moved == expected,
            f"user {run.user}: debited {run.debited} and exchanged {run.accepted} to token "
            f"{run.pair.to_token.id} (all settled); the balance should have moved by {expected}, "
            f"it moved by {moved}",
            *evidence,
            expected=str(expected),
            actual=str(moved),
        )
    if not judged:
        raise Untestable("no exchange history row showed the points it burned (see EXC-11)")
