"""The business rules: one test per requirement id, sharing one CheckContext.

A Nonconformity fails the test with the finding and the evidence (redacted
requests and responses with curl lines), also attached as the ``evidence``
user property for the certify report; Untestable skips it with the reason. A
RunError (the run cannot be made) propagates: the plugin stops the session on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from qiibee_conformance.checks import Check, CheckContext, Nonconformity, Untestable, all_checks
from qiibee_conformance.client import ApiClient
from qiibee_conformance.settings import Settings

CHECKS = all_checks()
_EVIDENCE_SHOWN = 4


@pytest.fixture(scope="session")
def check_context(qiibee_settings: Settings, api_client: ApiClient) -> Iterator[CheckContext]:
    yield CheckContext(qiibee_settings, api_client)


def _render(finding: Nonconformity) -> str:
    lines = [f"NONCONFORMITY: {finding.message}"]
    for exchange in finding.evidence[-_EVIDENCE_SHOWN:]:
        lines.append(f"  {exchange.method} {exchange.url} -> {exchange.status}")
        if exchange.request_body:
            lines.append(f"    request: {exchange.request_body[:300]}")
        lines.append(f"    response: {exchange.response_body[:300]}")
        lines.append(f"    reproduce: {exchange.curl()}")
    return "\n".join(lines)


@pytest.mark.parametrize(
    "business_check",
    [pytest.param(c, id=c.id, marks=pytest.mark.requirement(c.id)) for c in CHECKS],
)
def test_requirement(
    business_check: Check, check_context: CheckContext, api_client: ApiClient, request: pytest.FixtureRequest
) -> None:
    finding: Nonconformity | None = None
    try:
        business_check(check_context)
    except Nonconformity as err:
        finding = err
    except Untestable as skip:
        pytest.skip(skip.reason)
    if finding is not None:  # failed outside the except block: no chained traceback in the report
        evidence = [exchange.to_dict() for exchange in finding.evidence]
        request.node.user_properties.append(("evidence", json.dumps(evidence)))
        pytest.fail(_render(finding), pytrace=False)
