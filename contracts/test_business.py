"""The business rules: one test per requirement id, sharing one CheckContext.

The checks themselves run ahead on a background thread (``business_checks_ahead``
in conftest.py) while schemathesis fuzzes; each test reports its check's outcome:
a fail-level finding fails it, advisories are attached (and fail it only in strict
mode), an untestable requirement is skipped with the reason. A RunError (the run
cannot be made) propagates: the plugin stops the session on it.
"""

from __future__ import annotations

import pytest

from qiibee_conformance.certify.outcomes import report_outcome
from qiibee_conformance.checks import Check, all_checks
from qiibee_conformance.checks.ahead import ChecksAhead
from qiibee_conformance.settings import Settings

CHECKS = all_checks()


@pytest.mark.parametrize(
    "business_check",
    [pytest.param(c, id=c.id, marks=pytest.mark.requirement(c.id)) for c in CHECKS],
)
def test_requirement(
    business_check: Check,
    business_checks_ahead: ChecksAhead,
    qiibee_settings: Settings,
    request: pytest.FixtureRequest,
) -> None:
    report_outcome(business_checks_ahead.outcome(business_check), request.node, strict=qiibee_settings.strict)
