"""Contract-suite-wide setup: request counting and default evidence.

- Every request schemathesis sends is counted for the reports (the checks'
  requests are counted by the ``api_client`` fixture).
- A failing test that attached no evidence of its own gets the last exchanges
  its ``api_client`` made during the test, so every finding can be reproduced.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any

import pytest
import schemathesis

from qiibee_conformance.certify.stats import STATS
from qiibee_conformance.client import ApiClient

EVIDENCE = "evidence"
_DEFAULT_EVIDENCE_EXCHANGES = 6
_REQUESTS_BEFORE_CALL = pytest.StashKey[int]()

@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    STATS.add_schema_call(getattr(case, "id", None))


def _client_of(item: pytest.Item) -> ApiClient | None:
    client = getattr(item, "funcargs", {}).get("api_client")
    return client if isinstance(client, ApiClient) else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    client = _client_of(item)
    if client is not None:
        item.stash[_REQUESTS_BEFORE_CALL] = client.request_count
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if call.when != "call" or not getattr(report, "failed", False):
        return report
    if any(name == EVIDENCE for name, _ in item.user_properties):
        return report
    client = _client_of(item)
    before = item.stash.get(_REQUESTS_BEFORE_CALL, None)
    if client is None or before is None:
        return report
    made = client.request_count - before
    if made <= 0:
        return report
    recent = list(client.exchanges)[-min(made, _DEFAULT_EVIDENCE_EXCHANGES) :]
    entry = (EVIDENCE, json.dumps([exchange.to_dict() for exchange in recent]))
    item.user_properties.append(entry)
    report.user_properties.append(entry)
    return report
