"""Levels, advisories and verdicts as data: how a check's outcome is folded, without a target."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import pytest

from qiibee_conformance.certify.reports import json_report, junit_report
from qiibee_conformance.certify.results import (
    CONFORMS,
    CONFORMS_WITH_ADVISORIES,
    FAIL,
    INCOMPLETE,
    NONCONFORMING,
    PASS,
    SKIPPED,
    ItemRecord,
    assemble,
)
from qiibee_conformance.checks.base import Check, advise, ensure
from qiibee_conformance.checks.outcome import ADVISORY, FAILED, UNTESTABLE, VERIFIED, file_note, run_check
from qiibee_conformance.findings import Finding, Level, Nonconformity, Untestable, stable_text
from qiibee_conformance.requirements import REQUIREMENTS


def _run(requirement_id: str, body: Any) -> Any:
    return run_check(Check(REQUIREMENTS[requirement_id], body), None)  # type: ignore[arg-type]


def test_a_fail_level_finding_fails_the_check_at_the_requirement_level() -> None:
    def body(ctx: object) -> None:
        ensure(False, "USR-01 broken", expected="HTTP 201", actual="HTTP 500")

    outcome = _run("USR-01", body)
    assert outcome.status == FAILED
    assert outcome.failure is not None
    assert outcome.failure.level == Level.FAIL and outcome.failure.requirement_id == "USR-01"
    assert (outcome.failure.expected, outcome.failure.actual) == ("HTTP 201", "HTTP 500")


def test_advise_files_an_advisory_and_the_check_goes_on() -> None:
    reached: list[str] = []

    def body(ctx: object) -> None:
        assert advise(True, "holds", decision="D9")
        assert not advise(False, "newest first within the page", decision="D42")
        reached.append("after")

    outcome = _run("USR-11", body)
    assert reached == ["after"]
    assert outcome.status == ADVISORY
    [advisory] = outcome.advisories
    assert (advisory.level, advisory.decision, advisory.requirement_id) == (Level.WARN, "D42", "USR-11")


def test_a_finding_in_a_warn_level_requirement_is_an_advisory() -> None:
    def body(ctx: object) -> None:
        raise Nonconformity("invalid email on update accepted")

    outcome = _run("USR-10", body)
    assert REQUIREMENTS["USR-10"].level == Level.WARN
    assert outcome.status == ADVISORY and outcome.failure is None


def test_untestable_and_verified() -> None:
    def untestable(ctx: object) -> None:
        raise Untestable("no one-way pair", prerequisite=None)

    assert _run("EXC-02", untestable).status == UNTESTABLE
    assert _run("EXC-02", lambda ctx: None).status == VERIFIED


def test_advise_outside_a_check_is_a_bug_not_a_silent_pass() -> None:
    with pytest.raises(RuntimeError):
        advise(False, "nobody listens", decision="D1")


def test_fingerprints_ignore_volatile_values() -> None:
    one = Finding("user 1f0c3a9e-1111-4222-8333-444455556666 has 120 points at 2026-12-06T10:00:00Z",
                  requirement_id="BAL-02", level=Level.FAIL)
    two = Finding("user 0a0c3a9e-9999-4222-8333-444455556666 has 7 points at 2026-12-07T11:30:00.5Z",
                  requirement_id="BAL-02", level=Level.FAIL)
    assert one.fingerprint == two.fingerprint
    assert Finding("other", requirement_id="BAL-02").fingerprint != one.fingerprint
    assert stable_text("qc-2026abc-u3@example.com owes 10") == "<email> owes <n>"


def _record(rid: str, outcome: str, *, advisories: int = 0) -> ItemRecord:
    record = ItemRecord(nodeid=f"test[{rid}]", requirement_ids=[rid], group=REQUIREMENTS[rid].group,
                        outcome=outcome, message="m")
    record.advisories = [{"message": f"a{i}", "level": "warn", "decision": "D3"} for i in range(advisories)]
    return record


def _certify(records: list[ItemRecord], *, strict: bool = False, run_error: str | None = None) -> Any:
    now = datetime.now(UTC)
    return assemble(
        records, selected_groups=frozenset(), run_error=run_error, target="http://t", run_id="r",
        embedded_mock=False, started_at=now, finished_at=now, settings={}, counts={},
        collection_errors=[], strict=strict,
    )


@pytest.mark.parametrize(
    ("records", "verdict"),
    [
        ([_record("USR-01", PASS), _record("EXC-02", SKIPPED)], CONFORMS),
        ([_record("USR-01", PASS), _record("USR-11", PASS, advisories=1)], CONFORMS_WITH_ADVISORIES),
        ([_record("USR-01", FAIL), _record("USR-11", PASS, advisories=1)], NONCONFORMING),
    ],
)
def test_verdicts(records: list[ItemRecord], verdict: str) -> None:
    assert _certify(records).verdict == verdict


def test_incomplete_wins_over_everything() -> None:
    assert _certify([_record("USR-01", FAIL)], run_error="prerequisite not met: x").verdict == INCOMPLETE


def test_reports_carry_levels_counts_and_advisories() -> None:
    records = [_record("USR-01", PASS), _record("USR-11", PASS, advisories=2), _record("EXC-02", SKIPPED)]
    cert = _certify(records)
    document = json_report.build(cert)
    counts = document["summary"]["requirements"]
    assert (counts["verified"], counts["advisory"], counts["untestable"]) == (1, 1, 1)
    usr11 = next(r for r in document["requirements"] if r["id"] == "USR-11")
    assert usr11["level"] == "fail" and len(usr11["advisories"]) == 2
    assert usr11["basis"]["citations"][0]["document"] == "Users API"
    junit = ET.fromstring(junit_report.render(document))
    case = next(c for c in junit.iter("testcase") if c.get("name", "").startswith("USR-11"))
    assert case.find("failure") is None
    assert [p.get("value") for p in case.iter("property") if p.get("name") == "advisory"] == ["a0", "a1"]
    assert "ADVISORY" in (case.findtext("system-out") or "")
    skipped = next(c for c in junit.iter("testcase") if c.get("name", "").startswith("EXC-02"))
    assert skipped.find("skipped") is not None


def test_a_check_notes_what_it_could_not_try() -> None:
    def body(ctx: object) -> None:
        file_note("reverses not tried: 202 -> 101 (no funds of token 202)")

    outcome = _run("EXC-02", body)
    assert outcome.status == VERIFIED
    assert outcome.notes == ("reverses not tried: 202 -> 101 (no funds of token 202)",)
