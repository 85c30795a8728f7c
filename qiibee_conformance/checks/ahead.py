"""Run business checks ahead of the tests that report them.

The checks spend most of their time waiting on the target (settlement, bursts,
creation-order gaps), while schemathesis spends its time generating cases on the
CPU. Running the checks, in their usual order, on a background thread while
schemathesis fuzzes in the main thread overlaps the two; each business test then
only collects its check's outcome.

The thread is a daemon, so a run that is stopped (Ctrl-C, ``--max-time``) never
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


class ChecksAhead:
    """A daemon thread running the given checks in order."""

    def __init__(self, ctx: CheckContext, checks: Iterable[Check]) -> None:
        self.context = ctx
        self._queue = [(check, Future[CheckOutcome]()) for check in checks]
        self._futures = {check.id: future for check, future in self._queue}
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._work, name="qc-business", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        for check, future in self._queue:
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
        self._thread.join(timeout=0 if run_control.stopped() else None)
