"""The baseline gate: accepted findings, new ones, expired and fixed entries, malformed files.

Units hold the file format (every complaint names the file and the line) and the gate's
arithmetic on report documents; the end-to-end runs do what a vendor team does: a fault
is found and accepted, the gate passes; a second fault fails it naming only the new one;
the first fault removed, its entry is listed as fixed; ``diff`` of those reports names
exactly the changes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from qiibee_conformance.certify import baseline_file, schema_failures
from qiibee_conformance.certify.baseline import apply, entries_to_write
from qiibee_conformance.certify.baseline_file import Baseline, BaselineEntry
from qiibee_conformance.certify.fingerprints import failure_fingerprint
from qiibee_conformance.certify.results import FAIL, ItemRecord
from qiibee_conformance.embedded import EmbeddedMock
from qiibee_conformance.errors import RunError
from tests.certify_helpers import clean_env, describe, load_report, run_certify

SECRET_KEY = "qk-baseline-3c9e71f0a2d4b865"
TODAY = date(2025, 6, 1)
FP_A, FP_B, FP_C, FP_D = "a" * 16, "b" * 16, "c" * 16, "d" * 16


# --- the file: every problem names the file and the line ------------------------------------

VALID = """\
# accepted for now
version: 1
accepted:
  - requirement: ERR-02
    fingerprint: "aaaaaaaaaaaaaaaa"
    kind: failure
    summary: "POST /users → 500"
    reason: "ticket PAY-1: parser replaced in 2.3"
    expires: 2025-07-01
  - requirement: USR-10
    fingerprint: bbbbbbbbbbbbbbbb
    kind: advisory
    reason: our reading; the vendor disagrees
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "baseline.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_baseline_is_read_with_its_lines(tmp_path: Path) -> None:
    read = baseline_file.read(_write(tmp_path, VALID))
    assert [(e.requirement, e.fingerprint, e.kind, e.line) for e in read.entries] == [
        ("ERR-02", FP_A, "failure", 4),
        ("USR-10", FP_B, "advisory", 10),
    ]
    assert read.entries[0].expires == date(2025, 7, 1) and read.entries[1].expires is None
    assert read.entries[0].reason.startswith("ticket PAY-1")


HEAD = "version: 1\naccepted:\n"
ENTRY = "  - requirement: ERR-02\n    fingerprint: aaaaaaaaaaaaaaaa\n"  # lines 3 and 4 after HEAD


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("version: 2\naccepted: []\n", 1, "version '2' is not supported"),
        ("accepted: []\n", 1, "'version' is missing"),
        (HEAD + ENTRY, 3, "no 'reason'"),
        (HEAD + "  - requirement: ERR-02\n    fingerprint: xyz\n    reason: r\n", 4, "16 lowercase hex"),
        (HEAD + ENTRY + "    reason: r\n    expires: next week\n", 6, "not a date"),
        (HEAD + ENTRY + "    reason: r\n    reasn: typo\n", 6, "unknown key 'reasn'"),
        (HEAD + ENTRY + "    reason: ''\n", 5, "reason is empty"),
        (HEAD + ENTRY.replace("ERR-02", "err 2") + "    reason: r\n", 3, "no id such as EXC-03"),
        (HEAD + ENTRY + "    reason: r\n" + ENTRY + "    reason: again\n", 6, "entry on line 3"),
        (HEAD + "  - requirement: ERR-02\n    reason: 'unclosed\n", 5, "begins on line 4"),
        (HEAD + ENTRY + "   reason: bad indentation\n", 5, "not valid YAML"),
        ("version: 1\naccepted: {}\n", 2, "must be a list"),
        ("", 1, "empty"),
    ],
)
def test_a_malformed_baseline_names_file_and_line(tmp_path: Path, text: str, line: int, needle: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(RunError) as caught:
        baseline_file.read(path)
    message = str(caught.value)
    assert f"{path}:{line}:" in message and needle in message, message
    assert "\n" not in message


def test_a_missing_baseline_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="--write-baseline"):
        baseline_file.read(tmp_path / "nope.yml")


def test_written_baselines_read_back(tmp_path: Path) -> None:
    entries = [
        BaselineEntry("ERR-02", FP_A, "a reason: with 'quotes' and # hashes", summary="POST /users → 500"),
        BaselineEntry("USR-10", "1234567890123456", "digits only", kind="advisory", expires=date(2025, 1, 2)),
    ]
    path = baseline_file.write(tmp_path / "b.yml", entries)
    assert path.read_text(encoding="utf-8").startswith("# qiibee-conformance baseline")
    read = baseline_file.read(path)
    assert [(e.requirement, e.fingerprint, e.reason, e.kind, e.expires, e.summary) for e in read.entries] == [
        (e.requirement, e.fingerprint, e.reason, e.kind, e.expires, e.summary) for e in entries
    ]


# --- the gate's arithmetic on report documents ---------------------------------------------


def _finding(rid: str, fingerprint: str, level: str) -> dict[str, Any]:
    return {"requirement_id": rid, "level": level, "message": f"{rid} broke", "fingerprint": fingerprint,
            "evidence": []}


def _requirement(
    rid: str, status: str, findings: tuple[str, ...] = (), advisories: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {
        "id": rid, "level": "fail", "title": f"title of {rid}", "status": status, "message": "",
        "findings": [_finding(rid, f, "fail") for f in findings],
        "advisories": [_finding(rid, a, "warn") for a in advisories],
    }


def _document(*requirements: dict[str, Any], strict: bool = False) -> dict[str, Any]:
    return {"tool": "qiibee-conformance", "strict": strict, "requirements": list(requirements),
            "unmarked_tests": []}


def _baseline(*entries: BaselineEntry) -> Baseline:
    return Baseline(path="b.yml", entries=entries)


def test_the_gate_sorts_findings_and_entries() -> None:
    document = _document(
        _requirement("ERR-02", "failed", (FP_A,)),
        _requirement("HIS-01", "failed", (FP_B,)),
        _requirement("USR-10", "advisory", advisories=(FP_C,)),
        _requirement("MEM-09", "verified"),
        _requirement("EXC-03", "not-run"),
    )
    baseline = _baseline(
        BaselineEntry("ERR-02", FP_A, "known"),
        BaselineEntry("MEM-09", FP_D, "was broken"),
        BaselineEntry("EXC-03", FP_D, "not tested this time"),
    )
    gate = apply(baseline, document, today=TODAY)
    assert [e.requirement for e, _ in gate.accepted] == ["ERR-02"]
    assert [e.requirement for e in gate.new] == ["HIS-01", "USR-10"]
    assert [b.requirement for b in gate.fixed] == ["MEM-09"]
    assert [b.requirement for b in gate.not_checked] == ["EXC-03"]
    assert [e.requirement for e in gate.blocking] == ["HIS-01"]  # a new advisory does not gate by default


def test_expired_entries_count_again_and_strict_gates_advisories() -> None:
    document = _document(
        _requirement("ERR-02", "failed", (FP_A,)), _requirement("USR-10", "advisory", advisories=(FP_C,))
    )
    baseline = _baseline(
        BaselineEntry("ERR-02", FP_A, "known", expires=date(2025, 5, 31)),
        BaselineEntry("USR-10", FP_C, "known", kind="advisory", expires=TODAY),  # still valid on its last day
    )
    gate = apply(baseline, document, today=TODAY)
    assert [e.requirement for e, _ in gate.expired] == ["ERR-02"]
    assert [e.requirement for e in gate.blocking] == ["ERR-02"]
    strict = _document(_requirement("USR-10", "failed", advisories=(FP_C,)), strict=True)
    assert [e.requirement for e in apply(_baseline(), strict, today=TODAY).blocking] == ["USR-10"]
    listed = _baseline(BaselineEntry("USR-10", FP_C, "ok", kind="advisory"))
    assert apply(listed, strict, today=TODAY).blocking == []


def test_a_failed_requirement_without_a_finding_still_gates() -> None:
    broken = {**_requirement("ERR-01", "failed"), "message": "error in setup: boom"}
    gate = apply(_baseline(), _document(broken), today=TODAY)
    assert [e.requirement for e in gate.blocking] == ["ERR-01"]


def test_rewriting_a_baseline_keeps_reasons_and_dates() -> None:
    document = _document(_requirement("ERR-02", "failed", (FP_A,)), _requirement("HIS-01", "failed", (FP_B,)))
    previous = _baseline(BaselineEntry("ERR-02", FP_A, "ticket 7", expires=date(2026, 1, 1)))
    written = {e.requirement: e for e in entries_to_write(document, previous, today=TODAY)}
    assert written["ERR-02"].reason == "ticket 7" and written["ERR-02"].expires == date(2026, 1, 1)
    assert "2025-06-01" in written["HIS-01"].reason and written["HIS-01"].expires is None


def test_schemathesis_failures_have_stable_fingerprints() -> None:
    def message(case_id: str, body: str, port: int) -> str:
        return (f"test_negative_data_rejected (label='POST /users'): FailureGroup: 2 distinct failures\n\n"
                f"- ST101 Server error\n\n- ST103 Undocumented status code\n\n    Received: 500\n\n"
                f"    curl -X POST -d '{body}' http://127.0.0.1:{port}/users  # {case_id}\n")

    first = failure_fingerprint("SCH-02", "fail", message("N0wlvl", "\\x00", 18712), [])
    again = failure_fingerprint("SCH-02", "fail", message("Psqz2B", "{}", 40123), [])
    assert first == again
    other_operation = message("N0wlvl", "{}", 1).replace("POST /users", "POST /transactions")
    assert failure_fingerprint("SCH-02", "fail", other_operation, []) != first
    assert failure_fingerprint("SCH-01", "fail", message("N0wlvl", "{}", 1), []) != first
    # Without a label, the operation comes from the evidence, below the target's own base path.
    evidence = [{"request": {"method": "POST", "url": "https://sandbox.example.com/api/v2/users?x=1"}}]
    unlabelled = "- ST101 Server error\n- ST103 Undocumented status code\n"
    assert failure_fingerprint("SCH-02", "fail", unlabelled, evidence) == failure_fingerprint(
        "SCH-02", "fail", "label='POST /users'\n" + unlabelled, []
    )


def test_a_schema_test_failure_is_one_finding_per_operation() -> None:
    def message(operations: list[str], port: int) -> str:
        parts = [f"Failed: {len(operations)} failed: {', '.join(operations)}"]
        parts += [f"{op}: FailureGroup: found\n\n- ST101 Server error\n\n    curl http://127.0.0.1:{port}/x"
                  for op in operations]
        return "\n\n".join(parts)

    def keys(text: str) -> dict[str, str]:
        record = ItemRecord("test_schema.py::test_negative_data_rejected", ["SCH-02"], "schema", outcome=FAIL,
                            message=text, evidence=[{"request": {"method": "PUT", "url": "http://h/users/u1"}}])
        found = schema_failures.findings("SCH-02", "fail", record)
        return {f["message"].split(":")[0]: f["fingerprint"] for f in found} | {
            f["message"].split(":")[0] + " evidence": str(len(f["evidence"])) for f in found
        }

    one = keys(message(["POST /users"], 1))
    two = keys(message(["POST /users", "PUT /users/{auth_id}"], 2))
    assert one["POST /users"] == two["POST /users"]  # a second operation failing leaves the first's key
    assert two["PUT /users/{auth_id}"] != two["POST /users"]
    assert (two["POST /users evidence"], two["PUT /users/{auth_id} evidence"]) == ("0", "1")


# --- certify --baseline / --write-baseline, end to end ---------------------------------------

# Business groups only: the schemathesis groups' fingerprints are held by the unit test above.
GROUPS = ("--only", "errors", "balances")
FIRST = ["malformed-json-500", "balances-digit-strings"]  # an ERR-02 failure, a BAL-01 advisory
SECOND = "debit-overdraw"  # a BAL-03 failure


@dataclass
class GateRun:
    result: subprocess.CompletedProcess[str]
    reports: Path

    @property
    def document(self) -> dict[str, Any]:
        return load_report(self.reports)


@dataclass
class GateRuns:
    written: GateRun
    accepted: GateRun
    second_fault: GateRun
    fault_removed: GateRun
    baseline: Path
    step_summary: Path
    directory: Path


def _certify(directory: Path, name: str, mock: EmbeddedMock, *extra: str, env: dict[str, str]) -> GateRun:
    reports = directory / name
    result = run_certify("--target", mock.base_url, *GROUPS, "--reports", str(reports), *extra, cwd=directory,
                         env=env)
    return GateRun(result, reports)


@pytest.fixture(scope="module")
def gate_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GateRuns]:
    directory = tmp_path_factory.mktemp("gate")
    baseline, summary = directory / "baseline.yml", directory / "step-summary.md"
    env = clean_env(QIIBEE_API_KEY=SECRET_KEY, GITHUB_STEP_SUMMARY=str(summary))
    with EmbeddedMock(faults=FIRST, api_key=SECRET_KEY, settle_delay=0.05) as first:
        written = _certify(directory, "written", first, "--write-baseline", str(baseline), env=env)
        accepted = _certify(directory, "accepted", first, "--baseline", str(baseline), "--markdown",
                            str(directory / "accepted.md"), env=env)
    with EmbeddedMock(faults=[*FIRST, SECOND], api_key=SECRET_KEY, settle_delay=0.05) as both:
        second = _certify(directory, "second", both, "--baseline", str(baseline), env=env)
    with EmbeddedMock(api_key=SECRET_KEY, settle_delay=0.05) as clean:
        removed = _certify(directory, "removed", clean, "--baseline", str(baseline), env=env)
    yield GateRuns(written, accepted, second, removed, baseline, summary, directory)


@pytest.mark.slow
def test_write_baseline_records_the_findings_and_exits_as_certify(gate_runs: GateRuns) -> None:
    assert gate_runs.written.result.returncode == 1, describe(gate_runs.written.result)
    entries = baseline_file.read(gate_runs.baseline).entries
    assert {(e.requirement, e.kind) for e in entries} == {("ERR-02", "failure"), ("BAL-01", "advisory")}
    assert "baseline written" in gate_runs.written.result.stdout


@pytest.mark.slow
def test_the_baseline_accepts_what_it_lists(gate_runs: GateRuns) -> None:
    run = gate_runs.accepted
    assert run.result.returncode == 0, describe(run.result)
    document = run.document
    assert document["verdict"] == "NONCONFORMING"  # the verdict stays truthful
    assert len(document["baseline"]["accepted"]) == 2 and document["baseline"]["blocking"] == 0
    assert "NONCONFORMING — every failure accepted by the baseline" in run.result.stdout
    err02 = next(r for r in document["requirements"] if r["id"] == "ERR-02")
    assert err02["findings"][0]["baseline"]["status"] == "accepted"
    assert "accepted by the baseline" in (run.reports / "certification.html").read_text(encoding="utf-8")
    junit = ET.parse(run.reports / "junit.xml").getroot()
    case = next(c for c in junit.iter("testcase") if c.get("name", "").startswith("ERR-02"))
    failure = case.find("failure")
    assert failure is not None and failure.get("message", "").startswith("[accepted by the baseline]")
    markdown = (gate_runs.directory / "accepted.md").read_text(encoding="utf-8")
    assert "accepted by the baseline" in markdown and "curl" in markdown


@pytest.mark.slow
def test_a_second_fault_fails_naming_only_the_new_one(gate_runs: GateRuns) -> None:
    run = gate_runs.second_fault
    assert run.result.returncode == 1, describe(run.result)
    gate = run.document["baseline"]
    assert [(n["requirement"], n["kind"]) for n in gate["new"]] == [("BAL-03", "failure")]
    assert {a["requirement"] for a in gate["accepted"]} == {"ERR-02", "BAL-01"}
    new_lines = [line for line in run.result.stdout.splitlines() if line.strip().startswith("NEW")]
    assert len(new_lines) == 1 and "BAL-03" in new_lines[0]


@pytest.mark.slow
def test_removing_the_fault_lists_its_entries_as_fixed(gate_runs: GateRuns) -> None:
    run = gate_runs.fault_removed
    assert run.result.returncode == 0, describe(run.result)
    gate = run.document["baseline"]
    assert {f["requirement"] for f in gate["fixed"]} == {"ERR-02", "BAL-01"}
    assert gate["new"] == [] and gate["accepted"] == []
    assert sum(1 for line in run.result.stdout.splitlines() if line.strip().startswith("FIXED")) == 2


@pytest.mark.slow
def test_diff_of_the_gate_runs_names_exactly_the_changes(gate_runs: GateRuns, tmp_path: Path) -> None:
    def diff(old: GateRun, new: GateRun, markdown: Path) -> tuple[int, list[tuple[str, str]]]:
        old_json, new_json = old.reports / "certification.json", new.reports / "certification.json"
        command = [sys.executable, "-m", "qiibee_conformance", "diff", str(old_json), str(new_json),
                   "--markdown", str(markdown)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=clean_env(),
                                check=False)
        assert SECRET_KEY not in result.stdout + result.stderr
        lines = result.stdout.splitlines()
        rows = [line.split()[:3] for line in lines if line[:1].isupper() and "  " in line]
        changes = [(" ".join(r[:2]).lower(), r[2]) for r in rows if r[0] in {"NEW", "FIXED", "STILL"}]
        return result.returncode, sorted(changes)

    code, changes = diff(gate_runs.accepted, gate_runs.second_fault, tmp_path / "a.md")
    assert code == 1
    assert changes == [("new failure", "BAL-03"), ("still failing", "ERR-02")]
    code, changes = diff(gate_runs.second_fault, gate_runs.fault_removed, tmp_path / "b.md")
    assert code == 0
    assert changes == [("fixed advisory", "BAL-01"), ("fixed failure", "BAL-03"), ("fixed failure", "ERR-02")]
    assert "| fixed failure | `BAL-03` |" in (tmp_path / "b.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_key_is_in_no_report_baseline_or_summary(gate_runs: GateRuns) -> None:
    files = [p for p in gate_runs.directory.rglob("*") if p.is_file()]
    assert gate_runs.baseline in files and gate_runs.step_summary in files
    assert gate_runs.step_summary.read_text(encoding="utf-8").count("qiibee-conformance:") == 4
    for path in files:
        assert SECRET_KEY not in path.read_text(encoding="utf-8", errors="replace"), path
    for run in (gate_runs.written, gate_runs.accepted, gate_runs.second_fault, gate_runs.fault_removed):
        assert SECRET_KEY not in run.result.stdout + run.result.stderr


def test_a_malformed_baseline_stops_certify_before_the_run(tmp_path: Path) -> None:
    path = _write(tmp_path, HEAD + "  - requirement: ERR-02\n    fingerprint: nope\n    reason: r\n")
    result = run_certify("--baseline", str(path), "--reports", str(tmp_path / "r"), cwd=tmp_path)
    assert result.returncode == 2, describe(result)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"{path}:4:" in lines[0], lines
    assert "run id" not in result.stdout  # nothing was started
    assert not (tmp_path / "r" / "certification.json").exists()


def test_baseline_documents_stay_json(tmp_path: Path) -> None:
    """The baseline section of a report is plain JSON data (no dates or tuples)."""
    gate = apply(_baseline(BaselineEntry("ERR-02", FP_A, "r", expires=TODAY)),
                 _document(_requirement("ERR-02", "failed", (FP_A,))), today=TODAY)
    assert json.loads(json.dumps(gate.to_dict()))["accepted"][0]["expires"] == "2025-06-01"
