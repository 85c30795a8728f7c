"""What changed between two certification reports: findings, untestable requirements, figures.

Findings are matched by requirement and fingerprint (:mod:`qiibee_conformance.certify.ledger`),
so the same deviation found by both runs is "still failing", whatever ids, times or
generated data it carried. A finding of the old run whose requirement the new run did
not test is "no longer tested", never "fixed".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qiibee_conformance.certify import ledger
from qiibee_conformance.certify.ledger import ADVISORY, FAILURE, Entry


@dataclass(frozen=True)
class Change:
    """One line of the diff: what happened to a finding or a requirement."""

    kind: str
    requirement: str
    text: str


@dataclass(frozen=True)
class Figure:
    """One number of both runs."""

    name: str
    old: float | None
    new: float | None
    unit: str = ""


# The kinds of change, in the order they are shown.
NEW_FAILURE = "new failure"
FIXED_FAILURE = "fixed failure"
STILL_FAILING = "still failing"
NEW_ADVISORY = "new advisory"
FIXED_ADVISORY = "fixed advisory"
NEWLY_UNTESTABLE = "newly untestable"
NO_LONGER_TESTED = "no longer tested"
ORDER = (NEW_FAILURE, FIXED_FAILURE, STILL_FAILING, NEW_ADVISORY, FIXED_ADVISORY, NEWLY_UNTESTABLE,
         NO_LONGER_TESTED)  # fmt: skip


@dataclass
class Comparison:
    old: dict[str, Any]
    new: dict[str, Any]
    changes: list[Change] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Change]:
        return [c for c in self.changes if c.kind == kind]

    @property
    def something_new_fails(self) -> bool:
        """A new failure; a new advisory too when the new run is strict."""
        strict = bool(self.new.get("strict"))
        return bool(self.of_kind(NEW_FAILURE) or (strict and self.of_kind(NEW_ADVISORY)))


def _change(kind: str, entry: Entry) -> Change:
    return Change(kind, entry.requirement, entry.summary)


def _finding_changes(old: dict[str, Any], new: dict[str, Any], kind: str) -> list[Change]:
    before = {e.key: e for e in ledger.of_kind(old, kind)}
    after = {e.key: e for e in ledger.of_kind(new, kind)}
    tested = ledger.run_requirements(new)
    appeared, gone = (NEW_FAILURE, FIXED_FAILURE) if kind == FAILURE else (NEW_ADVISORY, FIXED_ADVISORY)
    changes = [_change(appeared, e) for key, e in after.items() if key not in before]
    for key, entry in before.items():
        if key in after:
            changes += [_change(STILL_FAILING, after[key])] if kind == FAILURE else []
        elif entry.requirement in tested or entry.requirement == ledger.NO_REQUIREMENT:
            changes.append(_change(gone, entry))
        else:
            changes.append(_change(NO_LONGER_TESTED, entry))
    return changes


def _statuses(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(r.get("id")): r for r in document.get("requirements") or []}


def _untestable_changes(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    before = _statuses(old)
    changes = []
    for rid, requirement in _statuses(new).items():
        was = before.get(rid, {}).get("status", "absent")
        if requirement.get("status") == "untestable" and was != "untestable":
            reason = str(requirement.get("message") or "").strip().splitlines()
            changes.append(Change(NEWLY_UNTESTABLE, rid, f"was {was}: {reason[0] if reason else ''}"))
    return changes


def _number(document: dict[str, Any], *path: str) -> float | None:
    value: Any = document
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


_FIGURES = (
    ("requests", ("counts", "total_requests"), ""),
    ("requests by checks", ("counts", "check_requests"), ""),
    ("requests by schemathesis", ("counts", "schemathesis_requests"), ""),
    ("generated cases", ("counts", "schemathesis_cases"), ""),
    ("latency p50", ("latency_ms", "all", "p50_ms"), "ms"),
    ("latency p95", ("latency_ms", "all", "p95_ms"), "ms"),
    ("latency max", ("latency_ms", "all", "max_ms"), "ms"),
    ("checks' latency p95", ("latency_ms", "checks", "p95_ms"), "ms"),
    ("schemathesis' latency p95", ("latency_ms", "schemathesis", "p95_ms"), "ms"),
    ("duration", ("duration_s",), "s"),
)


def compare(old: dict[str, Any], new: dict[str, Any]) -> Comparison:
    """Every change between the ``old`` and ``new`` report documents."""
    changes = [
        *_finding_changes(old, new, FAILURE),
        *_finding_changes(old, new, ADVISORY),
        *_untestable_changes(old, new),
    ]
    changes.sort(key=lambda c: (ORDER.index(c.kind), c.requirement, c.text))
    figures = [Figure(name, _number(old, *path), _number(new, *path), unit) for name, path, unit in _FIGURES]
    return Comparison(old=old, new=new, changes=changes, figures=figures)
