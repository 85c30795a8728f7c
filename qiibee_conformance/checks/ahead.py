"""Run business checks ahead of the tests that report them.

The checks spend most of their time waiting on the target (settlement, bursts,
creation-order gaps, and every round trip to a distant sandbox), while schemathesis
spends its time generating cases. Running the checks on background threads, several
at once, while schemathesis fuzzes overlaps all of it; each business test then only
collects its check's outcome.

The threads are daemons, so a run that is stopped (Ctrl-C, ``--max-time``) never
waits for a check blocked in a request: the check ends at its next request or wait
(:mod:`qiibee_conformance.run_control`), or with the process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import Future

from qiibee_conformance import run_control
from qiibee_conformance.checks.base import Check
from qiibee_conformance.checks.context import CheckContext
from qiibee_conformance.checks.outcome import CheckOutcome, run_check
from qiibee_conformance.transport import is_distant

# Checks run at once: a distant target's round trips overlap (a near one needs few). Checks
# that need the same preparation (the exchange round, the history user) wait for it once
# (CheckContext.memo).
NEAR_WORKERS = 4
DISTANT_WORKERS = 12


def workers_for(round_trip_ms: float) -> int:
    """How many checks to run at once against a target this far away."""
    return DISTANT_WORKERS if is_distant(round_trip_ms) else NEAR_WORKERS


class ChecksAhead:
    """Daemon threads running the given checks, taken in catalogue order."""

    def __init__(self, ctx: CheckContext, checks: Iterable[Check], *, workers: int = NEAR_WORKERS) -> None:
        self.context = ctx
        self._queue = [(check, Future[CheckOutcome]()) for check in checks]
        self._futures = {check.id: future for check, future in self._queue}
        self._next = iter(self._queue)
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._threads = [
            threading.Thread(target=self._work, name=f"qc-business-{n}", daemon=True)
            for n in range(max(1, min(workers, len(self._queue))))
        ]
        for thread in self._threads:
            thread.start()

    def _take(self) -> tuple[Check, Future[CheckOutcome]] | None:
        with self._lock:
            return next(self._next, None)

    def _work(self) -> None:
        while (taken := self._take()) is not None:
            check, future = taken
            if self._closed.is_set() or not future.set_running_or_notify_cancel():
                continue
            future.set_result(run_check(check, self.context))

    def outcome(self, check: Check) -> CheckOutcome:
        """Wait for ``check`` (run now, in this thread, if it was not scheduled)."""
        future = self._futures.get(check.id)
        return future.result() if future is not None else run_check(check, self.context)

    def close(self) -> None:
        """Drop what has not started; wait for the running check (it may hold target state),
        unless the run was stopped."""
        self._closed.set()
        for _, future in self._queue:
            future.cancel()
        stopped = run_control.stopped()
        for thread in self._threads:
            thread.join(timeout=0 if stopped else None)
