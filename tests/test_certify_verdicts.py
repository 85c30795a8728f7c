"""The four verdicts end to end, and what decides between them: levels, strict mode,
untestable requirements and unmet prerequisites."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from qiibee_conformance.embedded import EmbeddedMock
from tests.certify_helpers import clean_env, describe, load_report, requirement_status, run_certify
from tests.hostile import hostile

pytestmark = pytest.mark.slow


def _certify(url: str, key: str, reports: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_certify(
        "--target", url, "--reports", str(reports), "--max-examples", "5", *args,
        cwd=reports.parent, env=clean_env(QIIBEE_API_KEY=key),
    )


def test_no_exchangeable_pair_is_incomplete(mock_server: EmbeddedMock, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    with hostile(mock_server.base_url, "empty-whitelist") as proxy:
        result = _certify(proxy.base_url, mock_server.api_key, reports)
    assert result.returncode == 2, describe(result)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "prerequisite not met" in lines[0], describe(result)
    assert "Traceback" not in result.stdout + result.stderr
    assert load_report(reports)["verdict"] == "INCOMPLETE"


def test_a_prerequisite_broken_by_the_target_is_a_finding(mock_server: EmbeddedMock, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    with hostile(mock_server.base_url, "users-500") as proxy:
        result = _certify(proxy.base_url, mock_server.api_key, reports, "--only", "users", "memberships")
    assert result.returncode == 1, describe(result)
    document = load_report(reports)
    assert document["verdict"] == "NONCONFORMING"
    statuses = requirement_status(document)
    assert statuses["USR-01"] == "failed"
    # the checks that needed a user say so, with the reason; none passes silently
    assert statuses["MEM-01"] == "untestable"
    reasons = {r["id"]: r["message"] for r in document["requirements"]}
    assert "prerequisite not met: create a user and read it back" in reasons["MEM-01"]
    assert document["summary"]["requirements"]["untestable"] > 5
