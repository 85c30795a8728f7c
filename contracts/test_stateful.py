"""SCH-03: schemathesis' state machine through the spec's OpenAPI links.

Chains: create user → get/put/patch → create membership → get/delete → get gives
404; create user → credit_points → exchange → history/balances (the funding and
exchange links carry the target's discovered token ids). Every created user is
named by the ``auth_id`` the scenario sent, so the links hold whichever of the
tolerated shapes the user comes back in (DECISIONS.md, "Spec: examples and links").
Bounded: few scenarios of few steps, so it takes seconds.
"""

from __future__ import annotations

import warnings
from typing import Any

import hypothesis
import pytest

from qiibee_conformance.client import ApiClient
from qiibee_conformance.discovery import Catalogue, discover
from qiibee_conformance.fuzzing import (
    STATEFUL_MAX_STEPS,
    build_state_machine,
    http_session,
    load_schema,
    redacted_failures,
    run_state_machine,
)
from qiibee_conformance.redact import Redactor
from qiibee_conformance.settings import Settings

# Scenarios per run: each is up to STATEFUL_MAX_STEPS calls.
_MAX_SCENARIOS = 15


@pytest.fixture(scope="session")
def qiibee_stateful_catalogue(qiibee_client: ApiClient, qiibee_settings: Settings) -> Catalogue:
    """The target's tokens, for the funding/exchange links.

    A target that cannot be reached or has no brand token raises RunError here:
    the run could not be made, which is not a finding.
    """
    return discover(qiibee_client, qiibee_settings)


@pytest.mark.requirement("SCH-03")
def test_stateful_link_sequences(qiibee_settings: Settings, qiibee_stateful_catalogue: Catalogue) -> None:
    schema = load_schema(qiibee_settings, "stateful", catalogue=qiibee_stateful_catalogue)
    redactor = Redactor([qiibee_settings.api_key])
    base: Any = build_state_machine(schema)
    session = http_session(qiibee_settings.limits)

    class LinkedCalls(base):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"session": session}

        def validate_response(self, response: Any, case: Any, *args: Any, **kwargs: Any) -> None:
            __tracebackhide__ = True
            with redacted_failures(redactor):
                super().validate_response(response, case, *args, **kwargs)

    settings = hypothesis.settings(
        max_examples=max(1, min(qiibee_settings.max_examples, _MAX_SCENARIOS)),
        stateful_step_count=STATEFUL_MAX_STEPS,
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=False,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    try:
        note = run_state_machine(LinkedCalls, settings)
    finally:
        session.close()
    if note is not None:
        warnings.warn(note, stacklevel=1)
