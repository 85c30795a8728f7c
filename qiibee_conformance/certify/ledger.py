"""Every failure and advisory of a certification report, each under a stable key.

The key is (requirement id, fingerprint): the same deviation found by two runs has the
same key, whatever ids, times or generated data it carried. The baseline, the diff and
the Markdown summary all read findings through here, from the JSON report document,
so they agree on what "the same finding" is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from qiibee_conformance.certify.fingerprints import failure_fingerprint, fingerprint, schemathesis_summary

FAILURE, ADVISORY = "failure", "advisory"
# The requirement of a failed test that names none.
NO_REQUIREMENT = "-"
_SUMMARY_LIMIT = 160

Key = tuple[str, str]


@dataclass(frozen=True)
class Entry:
    """One failure or advisory of a report."""

    requirement: str
    fingerprint: str
    kind: str  # FAILURE or ADVISORY
    level: str
    title: str
    message: str
    summary: str = ""
    decision: str | None = None
    curl: str | None = None

    @property
    def key(self) -> Key:
        return (self.requirement, self.fingerprint)


def summary_of(message: str, evidence: list[dict[str, Any]]) -> str:
    """One line for people: schemathesis' failures on their operation, else the message's first line."""
    named = schemathesis_summary(message, evidence)
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    first = named or (lines[0] if lines else "")
    return first if len(first) <= _SUMMARY_LIMIT else first[: _SUMMARY_LIMIT - 1] + "…"


def last_curl(finding: dict[str, Any]) -> str | None:
    """The curl line of the finding's last exchange that has one."""
    curls = [e.get("curl") for e in finding.get("evidence") or [] if isinstance(e, dict) and e.get("curl")]
    return str(curls[-1]) if curls else None


def key_of(requirement: dict[str, Any], finding: dict[str, Any]) -> Key:
    """The key of a finding of ``requirement``; computed the stable way when the report has none."""
    rid = str(finding.get("requirement_id") or requirement.get("id") or NO_REQUIREMENT)
    given = finding.get("fingerprint")
    if isinstance(given, str) and given:
        return (rid, given)
    level = finding.get("level") or requirement.get("level")
    message = str(finding.get("message") or "")
    return (rid, failure_fingerprint(rid, level, message, finding.get("evidence") or []))


def _entry(requirement: dict[str, Any], finding: dict[str, Any], kind: str) -> Entry:
    rid, print_ = key_of(requirement, finding)
    message = str(finding.get("message") or "")
    return Entry(
        requirement=rid,
        fingerprint=print_,
        kind=kind,
        level=str(finding.get("level") or requirement.get("level") or ""),
        title=str(requirement.get("title") or ""),
        message=message,
        summary=summary_of(message, finding.get("evidence") or []),
        decision=finding.get("decision"),
        curl=last_curl(finding),
    )


def _unmarked(test: dict[str, Any]) -> Entry:
    message = str(test.get("message") or "")
    nodeid = str(test.get("nodeid") or "")
    return Entry(
        requirement=NO_REQUIREMENT,
        fingerprint=str(test.get("fingerprint") or fingerprint(None, None, f"{nodeid}: {message}")),
        kind=FAILURE,
        level="fail",
        title=nodeid,
        message=message,
        summary=summary_of(f"{nodeid}: {message}", test.get("evidence") or []),
        curl=last_curl(test),
    )


def _failed_without_finding(requirement: dict[str, Any], *, strict: bool) -> bool:
    """A failed requirement none of whose findings would count against the run (a test error)."""
    if requirement.get("status") != "failed" or requirement.get("findings"):
        return False
    return not (strict and requirement.get("advisories"))


def _all(document: dict[str, Any]) -> Iterator[Entry]:
    strict = bool(document.get("strict"))
    for requirement in document.get("requirements") or []:
        for finding in requirement.get("findings") or []:
            yield _entry(requirement, finding, FAILURE)
        if _failed_without_finding(requirement, strict=strict):
            yield _entry(requirement, {"message": requirement.get("message") or "failed"}, FAILURE)
        for advisory in requirement.get("advisories") or []:
            yield _entry(requirement, advisory, ADVISORY)
    for test in document.get("unmarked_tests") or []:
        if test.get("outcome") == "fail":
            yield _unmarked(test)


def entries(document: dict[str, Any]) -> list[Entry]:
    """Every failure and advisory of the report, each key once, in report order."""
    found: dict[Key, Entry] = {}
    for entry in _all(document):
        found.setdefault(entry.key, entry)
    return list(found.values())


def of_kind(document: dict[str, Any], kind: str) -> list[Entry]:
    return [e for e in entries(document) if e.kind == kind]


def counts_against(entry: Entry, *, strict: bool) -> bool:
    """Whether ``entry`` fails a run: a failure always, an advisory in strict mode."""
    return entry.kind == FAILURE or strict


def run_requirements(document: dict[str, Any]) -> set[str]:
    """The requirements this run tested (neither unselected nor stopped before them)."""
    return {str(r.get("id")) for r in document.get("requirements") or [] if r.get("status") != "not-run"}
