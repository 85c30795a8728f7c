"""The business rules: one test per requirement id, sharing one CheckContext.

The checks themselves run ahead on a background thread (``business_checks_ahead``
in conftest.py) while schemathesis fuzzes; each test reports its check's outcome.

A Nonconformity fails the test with the finding and the evidence (redacted
requests and responses with curl lines), also attached as the ``evidence``
user property for the certify report; Untestable skips it with the reason. A
RunError (the run cannot be made) propagates: the plugin stops the session on it.
"""

from __future__ import annotations

import json

import pytest

from qiibee_conformance.checks import Check, Nonconformity, Untestable, all_checks
from qiibee_conformance.checks.ahead import ChecksAhead

CHECKS = all_checks()
_EVIDENCE_SHOWN = 4


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
    business_check: Check, business_checks_ahead: ChecksAhead, request: pytest.FixtureRequest
) -> None:
    finding: Nonconformity | None = None
    outcome = business_checks_ahead.outcome(business_check)
    # the check ran ahead: its own time, not this test's wait, is what the report shows
    request.node.user_properties.append(("check_seconds", outcome.seconds))
    try:
        outcome.reraise()
    except Nonconformity as err:
        finding = err
    except Untestable as skip:
        pytest.skip(skip.reason)
    if finding is not None:  # failed outside the except block: no chained traceback in the report
        evidence = [exchange.to_dict() for exchange in finding.evidence]
        request.node.user_properties.append(("evidence", json.dumps(evidence)))
        pytest.fail(_render(finding), pytrace=False)
