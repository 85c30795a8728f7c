"""``qiibee-conformance diff OLD.json NEW.json``: exactly the changes, exit 1 when something new fails.

The reports here are made by hand (their shape is json_report's); the end-to-end diff of
real certification runs is in test_baseline.py, on the gate workflow's reports.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from qiibee_conformance.diffing.compare import (
    FIXED_ADVISORY,
    FIXED_FAILURE,
    NEW_ADVISORY,
    NEW_FAILURE,
    NEWLY_UNTESTABLE,
    NO_LONGER_TESTED,
    STILL_FAILING,
    compare,
)
from tests.certify_helpers import clean_env

SECRET_KEY = "qk-diff-5e0c2a7b91d34f68"


def _finding(rid: str, fingerprint: str, message: str, level: str = "fail") -> dict[str, Any]:
    return {"requirement_id": rid, "level": level, "message": message, "fingerprint": fingerprint,
            "evidence": [{"curl": f"curl -i http://127.0.0.1:1/{rid}"}]}


def _requirement(rid: str, status: str, *, findings: tuple[dict[str, Any], ...] = (),
                 advisories: tuple[dict[str, Any], ...] = (), message: str = "") -> dict[str, Any]:
    return {"id": rid, "group": "g", "level": "fail", "title": f"title {rid}", "status": status,
            "message": message, "findings": list(findings), "advisories": list(advisories), "tests": []}


def _advisory(rid: str, fingerprint: str, message: str) -> dict[str, Any]:
    return _requirement(rid, "advisory", advisories=(_finding(rid, fingerprint, message, "warn"),))


def _failed(rid: str, fingerprint: str, message: str) -> dict[str, Any]:
    return _requirement(rid, "failed", findings=(_finding(rid, fingerprint, message),))


def _report(
    *requirements: dict[str, Any], run_id: str, p95: float, total: int, strict: bool = False
) -> dict[str, Any]:
    return {
        "tool": "qiibee-conformance", "run_id": run_id, "verdict": "NONCONFORMING", "strict": strict,
        "duration_s": 10.0, "requirements": list(requirements), "unmarked_tests": [],
        "counts": {"total_requests": total, "check_requests": total - 100, "schemathesis_requests": 100,
                   "schemathesis_cases": 90},
        "latency_ms": {"all": {"requests": total, "p50_ms": 1.0, "p95_ms": p95, "max_ms": 40.0}},
    }


OLD = _report(
    _failed("ERR-02", "a" * 16, "POST /users → 500"),
    _failed("HIS-04", "b" * 16, "a row twice"),
    _advisory("USR-10", "c" * 16, "invalid email kept"),
    _failed("EXC-03", "d" * 16, "rounded"),
    _requirement("MEM-06", "verified"),
    _requirement("EXC-09", "verified"),
    run_id="old-run", p95=10.0, total=1000,
)
NEW = _report(
    _failed("ERR-02", "a" * 16, "POST /users → 500 (other ids)"),
    _failed("HIS-01", "e" * 16, "oldest first"),
    _requirement("HIS-04", "verified"),
    _requirement("USR-10", "verified"),
    _advisory("BAL-01", "f" * 16, "digit strings"),
    _requirement("EXC-03", "not-run", message="not selected (--only)"),
    _requirement("MEM-06", "untestable", message="the brand's own id is not configured (brand_id)"),
    _requirement("EXC-09", "untestable", message="no miles pair"),
    run_id="new-run", p95=12.5, total=1100,
)


def test_compare_names_exactly_the_changes() -> None:
    comparison = compare(OLD, NEW)
    assert [(c.kind, c.requirement) for c in comparison.changes] == [
        (NEW_FAILURE, "HIS-01"),
        (FIXED_FAILURE, "HIS-04"),
        (STILL_FAILING, "ERR-02"),
        (NEW_ADVISORY, "BAL-01"),
        (FIXED_ADVISORY, "USR-10"),
        (NEWLY_UNTESTABLE, "EXC-09"),
        (NEWLY_UNTESTABLE, "MEM-06"),
        (NO_LONGER_TESTED, "EXC-03"),
    ]
    untestable = comparison.of_kind(NEWLY_UNTESTABLE)
    assert untestable[1].text == "was verified: the brand's own id is not configured (brand_id)"
    assert comparison.something_new_fails
    figures = {f.name: (f.old, f.new) for f in comparison.figures}
    assert figures["requests"] == (1000, 1100) and figures["latency p95"] == (10.0, 12.5)


def test_nothing_new_fails_when_only_fixes_happen() -> None:
    assert not compare(NEW, NEW).something_new_fails
    assert [c.kind for c in compare(NEW, NEW).changes] == [STILL_FAILING, STILL_FAILING]
    fixed_only = compare(OLD, _report(_requirement("ERR-02", "verified"), run_id="x", p95=1.0, total=10))
    assert not fixed_only.something_new_fails


def test_a_new_advisory_fails_a_strict_run_only() -> None:
    advisory = _advisory("BAL-01", "f" * 16, "strings")
    before = _report(run_id="a", p95=1.0, total=10)
    assert not compare(before, _report(advisory, run_id="b", p95=1.0, total=10)).something_new_fails
    assert compare(before, _report(advisory, run_id="b", p95=1.0, total=10, strict=True)).something_new_fails


def test_reports_without_fingerprints_are_matched_the_stable_way() -> None:
    def bare(message: str) -> dict[str, Any]:
        finding = _finding("EXC-05", "", message)
        del finding["fingerprint"]
        return _report(_requirement("EXC-05", "failed", findings=(finding,)), run_id="r", p95=1.0, total=1)

    first = bare("user qc-2026abc-u3@example.com overdrew 120 at 2026-01-01T10:00:00")
    second = bare("user qc-2027xyz-u9@example.com overdrew 75 at 2026-02-03T11:12:13")
    assert [c.kind for c in compare(first, second).changes] == [STILL_FAILING]


def _diff(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "qiibee_conformance", "diff", *args]
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env=clean_env(QIIBEE_API_KEY=SECRET_KEY), check=False)


def _files(tmp_path: Path, old: dict[str, Any], new: dict[str, Any]) -> tuple[str, str]:
    (tmp_path / "old.json").write_text(json.dumps(old), encoding="utf-8")
    (tmp_path / "new.json").write_text(json.dumps(new), encoding="utf-8")
    return str(tmp_path / "old.json"), str(tmp_path / "new.json")


def test_the_command_prints_a_table_and_writes_markdown(tmp_path: Path) -> None:
    old, new = _files(tmp_path, OLD, NEW)
    result = _diff(tmp_path, old, new, "--markdown", str(tmp_path / "diff.md"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "NEW FAILURE       HIS-01" in result.stdout and "FIXED FAILURE     HIS-04" in result.stdout
    assert "latency p95" in result.stdout and "+2.5 ms (+25%)" in result.stdout
    assert "something new fails" in result.stdout
    markdown = (tmp_path / "diff.md").read_text(encoding="utf-8")
    assert "| new failure | `HIS-01` | oldest first |" in markdown
    assert "| requests | 1000 | 1100 | +100 (+10%) |" in markdown
    again = _diff(tmp_path, new, new)
    assert again.returncode == 0 and "nothing new fails" in again.stdout


def test_the_key_never_reaches_the_diff(tmp_path: Path) -> None:
    leaky = json.loads(json.dumps(NEW).replace("oldest first", f"oldest first {SECRET_KEY}"))
    old, new = _files(tmp_path, OLD, leaky)
    result = _diff(tmp_path, old, new, "--markdown", str(tmp_path / "diff.md"))
    assert SECRET_KEY not in result.stdout + result.stderr
    assert SECRET_KEY not in (tmp_path / "diff.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "does not exist"),
        ('{"tool": "qiibee-conformance",\n  "requirements": [}', "old.json:2: not valid JSON"),
        ('{"verdict": "CONFORMS"}', "is not a certification report"),
    ],
)
def test_unreadable_reports_are_one_line_exit_2(tmp_path: Path, content: str | None, needle: str) -> None:
    if content is not None:
        (tmp_path / "old.json").write_text(content, encoding="utf-8")
    (tmp_path / "new.json").write_text(json.dumps(NEW), encoding="utf-8")
    result = _diff(tmp_path, str(tmp_path / "old.json"), str(tmp_path / "new.json"))
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], result.stderr
