"""Recording each answered request for the reports: its coverage entry and its time.

The contract suite calls these from wherever requests are seen: the checks' ApiClient
(through its observer), schemathesis' ``after_call`` hook in this process, and the
requests of the fuzzing worker processes, as ``qiibee_conformance.fuzzing.reporting``
hands them over while an SCH test reports its results.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from qiibee_conformance.certify.coverage import COVERAGE
from qiibee_conformance.certify.stats import CHECKS, SCHEMATHESIS, STATS
from qiibee_conformance.checks.outcome import running_requirement
from qiibee_conformance.evidence import Exchange

# (METHOD, path template, status, milliseconds): one request schemathesis sent.
SchemaCall = tuple[str, str, int, float]


def client_exchange(exchange: Exchange) -> None:
    """One request of the checks' client, under the check running in this thread (if any)."""
    try:
        COVERAGE.record_exchange(exchange, running_requirement())
        if exchange.status is not None:
            STATS.add_request_time(CHECKS, exchange.elapsed_ms)
    except Exception:  # coverage is best effort: it must never fail a check
        return


def schemathesis_calls(requirement: str | None, calls: Iterable[SchemaCall]) -> None:
    """Requests schemathesis sent for ``requirement`` (SCH-01, SCH-02, SCH-03)."""
    for method, template, status, elapsed_ms in calls:
        COVERAGE.record(method, template, status, requirement)
        STATS.add_request_time(SCHEMATHESIS, elapsed_ms)


_WORKERS_OBSERVED = threading.Event()


def worker_calls(requirement_of_running_test: Callable[[], str | None]) -> None:
    """Be told of every request the fuzzing workers made, under the SCH test reporting them (once).

    This process's schemathesis hooks never see them, so they are counted here too.
    """
    if _WORKERS_OBSERVED.is_set():
        return
    from qiibee_conformance.fuzzing import Call
    from qiibee_conformance.fuzzing.reporting import observe_with

    def record(call: Call) -> None:
        STATS.add_schema_call(call.case_id)
        schemathesis_calls(
            requirement_of_running_test(), [(call.method, call.path, call.status, call.elapsed_ms)]
        )

    observe_with(record)
    _WORKERS_OBSERVED.set()
