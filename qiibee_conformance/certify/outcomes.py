"""A business check's outcome as a pytest outcome, with the findings attached for the reports.

- failed: the test fails with the finding and its evidence (curl lines included);
- advisories: attached as the ``advisories`` user property and shown in the terminal
  summary; the test passes, unless strict mode turns them into a failure;
- untestable: the test is skipped with the reason (the reports list it as untestable);
- anything else the check raised (a RunError, a bug) is raised again as it was.

The same properties feed pytest's own JUnit XML (``record_property`` style) and the
certify collector, so plain ``pytest contracts`` and ``certify`` report alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import pytest

from qiibee_conformance.checks.outcome import CheckOutcome
from qiibee_conformance.findings import Finding

CHECK_SECONDS = "check_seconds"
EVIDENCE = "evidence"
FINDING = "finding"
ADVISORIES = "advisories"
PREREQUISITE = "prerequisite"
NOTES = "notes"
_EVIDENCE_SHOWN = 4


def render_finding(finding: Finding, label: str) -> str:
    """A finding as text: the label and message, then the last exchanges with a curl line each."""
    basis = f" [{finding.decision}]" if finding.decision else ""
    lines = [f"{label}: {finding.message}{basis}"]
    for exchange in finding.evidence[-_EVIDENCE_SHOWN:]:
        lines.append(f"  {exchange.method} {exchange.url} -> {exchange.status}")
        if exchange.request_body:
            lines.append(f"    request: {exchange.request_body[:300]}")
        lines.append(f"    response: {exchange.response_body[:300]}")
        lines.append(f"    reproduce: {exchange.curl()}")
    return "\n".join(lines)


def render_advisories(advisories: Iterable[Finding]) -> str:
    return "\n".join(render_finding(a, "ADVISORY") for a in advisories)


def report_outcome(outcome: CheckOutcome, node: pytest.Item, *, strict: bool) -> None:
    """Turn ``outcome`` into this test's pytest outcome and properties."""
    node.user_properties.append((CHECK_SECONDS, outcome.seconds))
    if outcome.notes:
        node.user_properties.append((NOTES, json.dumps(list(outcome.notes))))
    if outcome.error is not None:
        raise outcome.error
    if outcome.advisories:
        node.user_properties.append((ADVISORIES, json.dumps([a.to_dict() for a in outcome.advisories])))
    if outcome.failure is not None:
        node.user_properties.append((FINDING, json.dumps(outcome.failure.to_dict())))
        node.user_properties.append((EVIDENCE, json.dumps([e.to_dict() for e in outcome.failure.evidence])))
        text = render_finding(outcome.failure, "NONCONFORMITY")
        if outcome.advisories:
            text += "\n" + render_advisories(outcome.advisories)
        pytest.fail(text, pytrace=False)
    if outcome.advisories and strict:
        pytest.fail("strict mode: advisories count as failures\n" + render_advisories(outcome.advisories),
                    pytrace=False)
    if outcome.untestable is not None:
        if outcome.prerequisite is not None:
            node.user_properties.append((PREREQUISITE, outcome.prerequisite))
        pytest.skip(outcome.untestable)
