"""Every documented mock fault must make ``certify`` fail, naming the requirement it breaks;
the correct mock, and the mock choosing every tolerated alternative, must pass.

The fault list is read from ARCHITECTURE.md's table (the promise) and checked against
the mock's own catalogue, so a fault cannot be added to one without the other.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from certify_helpers import describe, load_report, requirement_status, run_certify

from qiibee_conformance.embedded import EmbeddedMock
from qiibee_conformance.mock.faults import FAULTS
from qiibee_conformance.requirements import REQUIREMENTS

ARCHITECTURE = Path(__file__).resolve().parents[1] / "ARCHITECTURE.md"
_ROW = re.compile(r"^\|\s*`([a-z0-9-]+)`[^|]*\|\s*([A-Z]+-\d\d)\s*\|\s*$")
KEY = "fault-test-key-5b1e0d9a"


def documented_faults() -> dict[str, str]:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text.split("## Mock faults", 1)[1].split("\n## ", 1)[0]
    return {m.group(1): m.group(2) for line in section.splitlines() if (m := _ROW.match(line.strip()))}


DOCUMENTED = documented_faults()


def test_fault_table_matches_the_mock() -> None:
    assert len(DOCUMENTED) >= 40
    assert {name: rid for name, (rid, _) in FAULTS.items()} == DOCUMENTED
    assert set(DOCUMENTED.values()) <= set(REQUIREMENTS)


@pytest.mark.slow
@pytest.mark.parametrize(("fault", "requirement_id"), sorted(DOCUMENTED.items()))
def test_certify_fails_each_fault(
    fault: str, requirement_id: str, tmp_path: Path, start_mock: Callable[..., EmbeddedMock]
) -> None:
    mock = start_mock(faults=[fault], api_key=KEY)
    group = REQUIREMENTS[requirement_id].group
    reports = tmp_path / "reports"
    result = run_certify(
        "--target", mock.base_url, "--api-key", KEY, "--only", group, "--max-examples", "10",
        "--reports", str(reports), cwd=tmp_path,
    )
    assert result.returncode == 1, describe(result)
    statuses = requirement_status(load_report(reports))
    status = statuses[requirement_id]
    assert status == "failed", f"{requirement_id} is {status}\n{describe(result)}"
    assert KEY not in result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("variants", [[], ["all-alternatives"]], ids=["clean", "all-alternatives"])
def test_certify_passes_correct_mocks(
    variants: list[str], tmp_path: Path, start_mock: Callable[..., EmbeddedMock]
) -> None:
    mock = start_mock(variants=variants, api_key=KEY)
    reports = tmp_path / "reports"
    result = run_certify(
        "--target", mock.base_url, "--api-key", KEY, "--max-examples", "10", "--reports", str(reports),
        cwd=tmp_path,
    )
    assert result.returncode == 0, describe(result)
    document = load_report(reports)
    assert document["verdict"] == "CONFORMS"
    failed = [rid for rid, status in requirement_status(document).items() if status == "failed"]
    assert failed == []
