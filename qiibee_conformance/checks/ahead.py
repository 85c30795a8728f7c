"""Run business checks ahead of the tests that report them.

The checks spend most of their time waiting on the target (settlement, bursts,
creation-order gaps), while schemathesis spends its time generating cases on the
CPU. Running the checks, in their usual order, on one background thread while
schemathesis fuzzes in the main thread overlaps the two; each business test then
only collects its check's outcome, re-raising exactly what the check raised.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor

from qiibee_conformance.checks.base import Check
from qiibee_conformance.checks.context import CheckContext
from qiibee_conformance.checks.outcome import CheckOutcome, run_check


class ChecksAhead:
    """A single worker thread running the given checks in order."""

    def __init__(self, ctx: CheckContext, checks: Iterable[Check]) -> None:
        self.context = ctx
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qc-business")
        self._futures: dict[str, Future[CheckOutcome]] = {
            check.id: self._executor.submit(run_check, check, ctx) for check in checks
        }

    def outcome(self, check: Check) -> CheckOutcome:
        """Wait for ``check`` (run now, in this thread, if it was not scheduled)."""
        future = self._futures.get(check.id)
        return future.result() if future is not None else run_check(check, self.context)

    def close(self) -> None:
        """Drop what has not started; wait for the running check (it may hold target state)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
