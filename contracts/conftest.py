"""Contract-suite-wide setup: request counting and default evidence.

- Every request schemathesis sends is counted for the reports (the checks'
  requests are counted by the ``qiibee_client`` fixture).
- A failing test that attached no evidence of its own gets the last exchanges
  its ``qiibee_client`` made during the test, or else the last requests
  schemathesis sent for it, so every finding can be reproduced.
- The business checks run last in the report but ahead in time: from the first
  contract test on, a background thread works through the selected checks while
  schemathesis fuzzes in the main thread (see qiibee_conformance.checks.ahead).
- Every answered request is recorded for the coverage section of the reports (operation,
  status, the requirement that sent it) and its time for the latency figures.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Generator, Iterator
from typing import Any

import pytest
import schemathesis

from qiibee_conformance.certify import observe
from qiibee_conformance.certify.coverage import COVERAGE
from qiibee_conformance.certify.plugin import REDACTOR_KEY
from qiibee_conformance.certify.selection import requirement_ids
from qiibee_conformance.certify.stats import STATS
from qiibee_conformance.checks import CheckContext
from qiibee_conformance.checks.ahead import ChecksAhead, workers_for
from qiibee_conformance.checks.prerequisites import PrerequisiteUnmetError
from qiibee_conformance.client import ApiClient
from qiibee_conformance.evidence import Exchange
from qiibee_conformance.fuzzing.evidence import exchange_of
from qiibee_conformance.settings import Settings

EVIDENCE = "evidence"
_DEFAULT_EVIDENCE_EXCHANGES = 6
_REQUESTS_BEFORE_CALL = pytest.StashKey[int]()

BUSINESS_FILE = "test_business.py"

_recent_schema_calls: deque[Exchange] = deque(maxlen=_DEFAULT_EVIDENCE_EXCHANGES)
_recent_lock = threading.Lock()
# The requirement of the contract test running in the main thread, where schemathesis sends.
_running_test: dict[str, str | None] = {"requirement": None}


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    STATS.add_schema_call(getattr(case, "id", None))


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    try:
        _record_schemathesis_call(case, response)
        exchange = exchange_of(response)
    except Exception:  # evidence is best effort: it must never turn into a failure of its own
        return
    with _recent_lock:
        _recent_schema_calls.append(exchange)


def _record_schemathesis_call(case: Any, response: Any) -> None:
    call = (str(case.operation.method).upper(), str(case.operation.path), int(response.status_code),
            float(response.elapsed) * 1000)
    observe.schemathesis_calls(_running_test["requirement"], [call])


def _client_of(item: pytest.Item) -> ApiClient | None:
    client = getattr(item, "funcargs", {}).get("qiibee_client")
    return client if isinstance(client, ApiClient) else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    client = _client_of(item)
    if client is not None:
        item.stash[_REQUESTS_BEFORE_CALL] = client.request_count
    with _recent_lock:
        _recent_schema_calls.clear()
    ids = requirement_ids(item)
    _running_test["requirement"] = ids[0] if ids else None
    try:
        return (yield)
    finally:
        _running_test["requirement"] = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if call.when != "call" or not getattr(report, "failed", False):
        return report
    if any(name == EVIDENCE for name, _ in item.user_properties):
        return report
    recent = _client_exchanges(item)
    if not recent:
        with _recent_lock:
            recent = list(_recent_schema_calls)
    if not recent:
        return report
    text = json.dumps([exchange.to_dict() for exchange in recent])
    redactor = item.config.stash.get(REDACTOR_KEY, None)
    entry = (EVIDENCE, redactor.text(text) if redactor is not None else text)
    item.user_properties.append(entry)
    report.user_properties.append(entry)
    return report


def _client_exchanges(item: pytest.Item) -> list[Exchange]:
    """The exchanges the test's ``qiibee_client`` made during its call phase (the last few)."""
    client = _client_of(item)
    before = item.stash.get(_REQUESTS_BEFORE_CALL, None)
    if client is None or before is None:
        return []
    made = client.request_count - before
    if made <= 0:
        return []
    return list(client.exchanges)[-min(made, _DEFAULT_EVIDENCE_EXCHANGES) :]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Business tests last: by the time they run, their checks have run ahead."""
    items.sort(key=lambda item: item.path.name == BUSINESS_FILE)


@pytest.fixture(scope="session")
def coverage_recording(qiibee_settings: Settings, qiibee_client: ApiClient) -> None:
    """Record every request of the checks' client for the coverage section of the reports."""
    COVERAGE.begin(qiibee_settings.base)
    qiibee_client.observe(observe.client_exchange)
    observe.worker_calls(lambda: _running_test["requirement"])


@pytest.fixture(scope="session", autouse=True)
def business_checks_ahead(request: pytest.FixtureRequest) -> Iterator[ChecksAhead | None]:
    """Start the selected business checks on a background thread at the first contract test."""
    request.getfixturevalue("coverage_recording")  # before any check sends a request
    selected = [
        item.callspec.params["business_check"]
        for item in request.session.items
        if item.path.name == BUSINESS_FILE and hasattr(item, "callspec")
    ]
    if not selected:
        yield None
        return
    ctx = CheckContext(request.getfixturevalue("qiibee_settings"), request.getfixturevalue("qiibee_client"))
    # What the selected checks stand on, before any of them runs: an unmet prerequisite that is no
    # finding of its own makes the run INCOMPLETE (the RunError stops the session, exit 2).
    incomplete = ctx.establish({c.requirement.group for c in selected})
    if incomplete is not None:
        raise PrerequisiteUnmetError(incomplete)
    # An xdist worker sees every collected item but runs only those it is sent: there each
    # check runs when its own test does, as it would without the background thread.
    under_xdist = hasattr(request.config, "workerinput")
    workers = workers_for(request.getfixturevalue("qiibee_round_trip_ms"))
    ahead = ChecksAhead(ctx, [] if under_xdist else selected, workers=workers)
    try:
        yield ahead
    finally:
        ahead.close()
