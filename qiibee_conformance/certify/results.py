"""What a certification run found, test by test and requirement by requirement.

The collector fills :class:`ItemRecord` objects while pytest runs; the reports
and the terminal summary all read the same :class:`Certification`, so they
cannot disagree about a verdict.

A requirement ends as one of:

- ``verified``: its tests ran and found nothing;
- ``advisory``: only warn-level findings (the project's readings where the documents
  are silent); not a failure unless the run is strict;
- ``failed``: a fail-level finding (or, in strict mode, an advisory);
- ``untestable``: the target gave the tests no means to run, with the reason;
- ``not-run``: not selected, or the run stopped before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from qiibee_conformance.certify import schema_failures
from qiibee_conformance.certify.fingerprints import stamped

# Test outcomes (pytest's words).
PASS, FAIL, SKIPPED = "pass", "fail", "skipped"
# Requirement statuses.
VERIFIED, FAILED, ADVISORY, UNTESTABLE, NOT_RUN = "verified", "failed", "advisory", "untestable", "not-run"
STATUSES = (VERIFIED, ADVISORY, FAILED, UNTESTABLE, NOT_RUN)
# Verdicts.
CONFORMS = "CONFORMS"
CONFORMS_WITH_ADVISORIES = "CONFORMS WITH ADVISORIES"
NONCONFORMING = "NONCONFORMING"
INCOMPLETE = "INCOMPLETE"
UNMARKED_GROUP = "(unmarked)"


@dataclass
class ItemRecord:
    """One pytest item, all phases folded together."""

    nodeid: str
    requirement_ids: list[str]
    group: str
    outcome: str = PASS  # pass | fail | skipped
    duration: float = 0.0
    message: str = ""
    details: str = ""
    evidence: list[dict[str, Any]] = field(default_factory=list)
    finding: dict[str, Any] | None = None
    advisories: list[dict[str, Any]] = field(default_factory=list)
    prerequisite: str | None = None
    notes: list[str] = field(default_factory=list)
    run_error: bool = False
    # Its test function returned (or setup failed or skipped). The collector starts each
    # record unfinished: a test a Ctrl-C or the run's deadline cut off mid-call has no
    # outcome, and must not read as passed.
    finished: bool = True

    @property
    def concluded(self) -> bool:
        return self.finished or self.outcome != PASS

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid,
            "outcome": self.outcome,
            "duration_s": round(self.duration, 3),
            "message": self.message,
            "details": self.details,
        }


@dataclass
class RequirementResult:
    id: str
    group: str
    title: str
    level: str
    source: str
    basis: dict[str, Any]
    status: str = NOT_RUN
    message: str = ""
    tests: list[ItemRecord] = field(default_factory=list)

    @property
    def evidence(self) -> list[dict[str, Any]]:
        return [e for t in self.tests if t.outcome == FAIL for e in t.evidence]

    @property
    def findings(self) -> list[dict[str, Any]]:
        """The fail-level findings, structured where the check gave them."""
        found: list[dict[str, Any]] = []
        for test in self.tests:
            if test.outcome != FAIL:
                continue
            if test.finding is not None:
                found.append(stamped(test.finding, self.id, self.level))
            elif not test.advisories:  # a schemathesis failure: per operation, with its default evidence
                found += schema_failures.findings(self.id, self.level, test)
        return found

    @property
    def advisories(self) -> list[dict[str, Any]]:
        return [stamped(a, self.id, "warn") for t in self.tests for a in t.advisories]

    @property
    def duration(self) -> float:
        return sum(t.duration for t in self.tests)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "group": self.group,
            "title": self.title,
            "level": self.level,
            "source": self.source,
            "basis": self.basis,
            "status": self.status,
            "message": self.message,
            "duration_s": round(self.duration, 3),
            "findings": self.findings,
            "advisories": self.advisories,
            "notes": [n for t in self.tests for n in t.notes],
            "tests": [t.to_dict() for t in self.tests],
            "evidence": self.evidence,
        }


@dataclass
class Certification:
    """The whole run: inputs that may be shown, results, counts and the verdict."""

    target: str
    run_id: str
    embedded_mock: bool
    started_at: datetime
    finished_at: datetime
    settings: dict[str, Any]
    selected_groups: list[str]
    requirements: list[RequirementResult]
    unmarked: list[ItemRecord]
    counts: dict[str, int]
    run_error: str | None = None
    collection_errors: list[str] = field(default_factory=list)
    strict: bool = False
    # Request times (p50/p95/max per source, stats.py) and what the run exercised (coverage.py).
    latency: dict[str, dict[str, float | int]] = field(default_factory=dict)
    coverage: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    def with_status(self, status: str) -> list[RequirementResult]:
        return [r for r in self.requirements if r.status == status]

    @property
    def failed(self) -> list[RequirementResult]:
        return self.with_status(FAILED)

    @property
    def advised(self) -> list[RequirementResult]:
        return self.with_status(ADVISORY)

    @property
    def untestable(self) -> list[RequirementResult]:
        return self.with_status(UNTESTABLE)

    @property
    def failed_unmarked(self) -> list[ItemRecord]:
        return [t for t in self.unmarked if t.outcome == FAIL]

    @property
    def verdict(self) -> str:
        if self.run_error is not None:
            return INCOMPLETE
        if self.failed or self.failed_unmarked:
            return NONCONFORMING
        if self.advised:
            return CONFORMS_WITH_ADVISORIES
        return CONFORMS

    def status_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for requirement in self.requirements:
            counts[requirement.status] += 1
        return counts


def fold_requirement(result: RequirementResult, *, selected: bool, stopped: bool) -> None:
    """Derive a requirement's status from its tests.

    A failure fails it, then advisories, then anything verified; only when every test
    was skipped is it untestable.
    """
    tests = [t for t in result.tests if t.concluded]
    if not tests:
        result.status = NOT_RUN
        if not selected:
            result.message = "not selected (--only)"
        elif stopped:
            result.message = "not run: the run stopped early"
        else:
            result.message = "no contract test certifies this requirement"
        return
    failed = [t for t in tests if t.outcome == FAIL]
    passed = [t for t in tests if t.outcome == PASS]
    advisories = result.advisories
    if failed:
        result.status = FAILED
        result.message = failed[0].message
    elif advisories:
        result.status = ADVISORY
        result.message = str(advisories[0].get("message", ""))
    elif passed:
        result.status = VERIFIED
        skipped = len(tests) - len(passed)
        result.message = f"{len(passed)} test(s) passed" + (f", {skipped} skipped" if skipped else "")
    else:
        result.status = UNTESTABLE
        result.message = tests[0].message


def assemble(
    records: list[ItemRecord],
    *,
    selected_groups: frozenset[str],
    run_error: str | None,
    target: str,
    run_id: str,
    embedded_mock: bool,
    started_at: datetime,
    finished_at: datetime,
    settings: dict[str, Any],
    counts: dict[str, int],
    collection_errors: list[str],
    strict: bool = False,
) -> Certification:
    """Fold test records into one result per documented requirement, in document order."""
    from qiibee_conformance.requirements import REQUIREMENTS

    results = {
        rid: RequirementResult(
            id=rid,
            group=r.group,
            title=r.title,
            level=str(r.level),
            source=r.source,
            basis=r.to_dict(),
        )
        for rid, r in REQUIREMENTS.items()
    }
    unmarked: list[ItemRecord] = []
    for record in records:
        if record.run_error:
            continue  # the run could not be made; the test says nothing about the target
        if not record.requirement_ids:
            unmarked.append(record)
        for rid in record.requirement_ids:
            results[rid].tests.append(record)
    for result in results.values():
        selected = not selected_groups or result.group in selected_groups
        fold_requirement(result, selected=selected, stopped=run_error is not None)
    return Certification(
        target=target,
        run_id=run_id,
        embedded_mock=embedded_mock,
        started_at=started_at,
        finished_at=finished_at,
        settings=settings,
        selected_groups=sorted(selected_groups),
        requirements=list(results.values()),
        unmarked=unmarked,
        counts=counts,
        run_error=run_error,
        collection_errors=collection_errors,
        strict=strict,
    )
