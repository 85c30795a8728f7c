"""Every documented mock fault must make ``certify`` fail, naming the requirement it breaks;
the correct mock, and the mock choosing every tolerated alternative, must pass.

A fault that breaks a warn-level reading (marked "(advisory)" in the table) must give an
advisory, exit 0, in default mode and a failure, exit 1, with --strict.

The fault list is read from ARCHITECTURE.md's table (the promise) and checked against
the mock's own catalogue, so a fault cannot be added to one without the other.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from qiibee_conformance.embedded import EmbeddedMock
from qiibee_conformance.mock.faults import FAULTS
from qiibee_conformance.requirements import REQUIREMENTS
from tests.certify_helpers import describe, load_report, requirement_status, run_certify

ARCHITECTURE = Path(__file__).resolve().parents[1] / "ARCHITECTURE.md"
_ROW = re.compile(r"^\|\s*`([a-z0-9-]+)`[^|]*\|\s*([A-Z]+-\d\d)\s*\|\s*$")
KEY = "fault-test-key-5b1e0d9a"


def _section() -> list[str]:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    return text.split("## Mock faults", 1)[1].split("\n## ", 1)[0].splitlines()


def documented_faults() -> dict[str, str]:
    return {m.group(1): m.group(2) for line in _section() if (m := _ROW.match(line.strip()))}


def advisory_faults() -> set[str]:
    return {m.group(1) for line in _section() if (m := _ROW.match(line.strip())) and "(advisory)" in line}


DOCUMENTED = documented_faults()
ADVISORY = advisory_faults()


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
    modes = [("--strict",), ()] if fault in ADVISORY else [()]
    # a fault that keeps a balance or a settlement from arriving is waited for until the
    # deadline; the fast-settling mock needs far less than the default 30 s. A deadline the
    # user sets turns a stuck settlement into a failure (D79), so that fault keeps the default.
    deadline = () if requirement_id == "SET-01" else ("--settle-timeout", "10")
    for mode in modes:
        reports = tmp_path / f"reports{len(mode)}"
        result = run_certify(
            "--target", mock.base_url, "--api-key", KEY, "--only", group, "--max-examples", "20",
            *deadline, "--reports", str(reports), *mode, cwd=tmp_path,
        )
        advisory = fault in ADVISORY and not mode
        assert result.returncode == (0 if advisory else 1), describe(result)
        document = load_report(reports)
        status = requirement_status(document)[requirement_id]
        wanted = "advisory" if advisory else "failed"
        assert status == wanted, f"{requirement_id} is {status}\n{describe(result)}"
        if advisory:
            assert document["verdict"] == "CONFORMS WITH ADVISORIES"
        assert KEY not in result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "variants",
    [[], ["all-alternatives"], ["literal-reading"], ["busy-service"]],
    ids=["clean", "all-alternatives", "literal-reading", "busy-service"],
)
def test_certify_passes_correct_mocks_strictly(
    variants: list[str], tmp_path: Path, start_mock: Callable[..., EmbeddedMock]
) -> None:
    """Correct servers pass with no advisory at all, so strict mode passes them too."""
    mock = start_mock(variants=variants, api_key=KEY)
    reports = tmp_path / "reports"
    result = run_certify(
        "--target", mock.base_url, "--api-key", KEY, "--max-examples", "10", "--reports", str(reports),
        "--strict", cwd=tmp_path,
    )
    assert result.returncode == 0, describe(result)
    document = load_report(reports)
    assert document["verdict"] == "CONFORMS"
    statuses = requirement_status(document)
    assert [rid for rid, status in statuses.items() if status in ("failed", "advisory")] == []
