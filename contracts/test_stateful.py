"""SCH-03: schemathesis' state machine through the spec's OpenAPI links.

Chains: create user → get/put/patch → create membership → get/delete → get gives
404; create user → credit_points → exchange → history/balances (the funding and
exchange links carry the target's discovered token ids). Every created user is
named by the ``auth_id`` the scenario sent, so the links hold whichever of the
tolerated shapes the user comes back in (DECISIONS.md, "Spec: examples and links").
Bounded: few scenarios of few steps, in parts (each from its own seed) on worker processes.
"""

from __future__ import annotations

import pytest

from qiibee_conformance.fuzzing.parallel import FuzzAhead
from qiibee_conformance.fuzzing.reporting import report_results


@pytest.mark.requirement("SCH-03")
def test_stateful_link_sequences(qiibee_fuzzing: FuzzAhead, request: pytest.FixtureRequest) -> None:
    report_results(qiibee_fuzzing.results("stateful"), request.node)
