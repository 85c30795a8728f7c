"""Run business checks ahead of the tests that report them.

The checks spend most of their time waiting on the target (settlement, bursts,
creation-order gaps), while schemathesis spends its time generating cases on the
CPU. Running the checks, in their usual order, on one background thread while
schemathesis fuzzes in the main thread overlaps the two; each business test then
only collects its check's outcome, re-raising exactly what the check raised.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from qiibee_conformance.checks.base import Check
from qiibee_conformance.checks.context import CheckContext


@dataclass(frozen=True)
class Outcome:
    """What one check did: nothing (passed) or the exception it raised, and how long it took."""

    error: BaseException | None
    seconds: float

    def reraise(self) -> None:
        if self.error is not None:
            raise self.error


def _run(check: Check, ctx: CheckContext) -> Outcome:
    started = time.monotonic()
    try:
        check(ctx)
    except Exception as err:  # handed to the test, which raises it as the check did
        return Outcome(err, time.monotonic() - started)
    return Outcome(None, time.monotonic() - started)


class ChecksAhead:
    """A single worker thread running the given checks in order."""

    def __init__(self, ctx: CheckContext, checks: Iterable[Check]) -> None:
        self.context = ctx
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qc-business")
        self._futures: dict[str, Future[Outcome]] = {
            check.id: self._executor.submit(_run, check, ctx) for check in checks
        }

    def outcome(self, check: Check) -> Outcome:
        """Wait for ``check`` (run now, in this thread, if it was not scheduled)."""
        future = self._futures.get(check.id)
        return future.result() if future is not None else _run(check, self.context)

    def close(self) -> None:
        """Drop what has not started; wait for the running check (it may hold target state)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
