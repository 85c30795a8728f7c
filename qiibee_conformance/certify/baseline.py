"""Gating a run on a baseline: which findings are accepted, which are new, which entries are fixed.

- *accepted*: found again and listed (and not past its ``expires`` date);
- *expired*: found again, but its entry is past its date: it counts again;
- *new*: found, and not listed;
- *fixed*: listed, its requirement ran, and it was not found: the entry can go;
- *not checked*: listed, but its requirement did not run (``--only``, a stopped run).

The verdict is never changed: a target with accepted failures is still NONCONFORMING.
Only the exit status is: 1 only for a failure (an advisory too, when strict) that is
new or expired.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from qiibee_conformance.certify import ledger
from qiibee_conformance.certify.baseline_file import Baseline, BaselineEntry
from qiibee_conformance.certify.ledger import Entry

ACCEPTED, EXPIRED, NEW = "accepted", "expired", "new"


@dataclass
class Gate:
    """A run's findings held against a baseline."""

    path: str
    strict: bool
    accepted: list[tuple[Entry, BaselineEntry]] = field(default_factory=list)
    expired: list[tuple[Entry, BaselineEntry]] = field(default_factory=list)
    new: list[Entry] = field(default_factory=list)
    fixed: list[BaselineEntry] = field(default_factory=list)
    not_checked: list[BaselineEntry] = field(default_factory=list)

    @property
    def blocking(self) -> list[Entry]:
        """What fails the run: new or expired failures (advisories too when strict)."""
        found = [*self.new, *(entry for entry, _ in self.expired)]
        return [e for e in found if ledger.counts_against(e, strict=self.strict)]

    def status_of(self, key: ledger.Key) -> tuple[str, BaselineEntry | None]:
        for entry, listed in self.accepted:
            if entry.key == key:
                return ACCEPTED, listed
        for entry, listed in self.expired:
            if entry.key == key:
                return EXPIRED, listed
        return NEW, None

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "accepted": [_pair(e, b) for e, b in self.accepted],
            "expired": [_pair(e, b) for e, b in self.expired],
            "new": [_found(e) for e in self.new],
            "fixed": [_listed(b) for b in self.fixed],
            "not_checked": [_listed(b) for b in self.not_checked],
            "blocking": len(self.blocking),
        }


def _found(entry: Entry | BaselineEntry) -> dict[str, Any]:
    return {
        "requirement": entry.requirement,
        "fingerprint": entry.fingerprint,
        "kind": entry.kind,
        "summary": entry.summary,
    }


def _listed(entry: BaselineEntry) -> dict[str, Any]:
    return {
        **_found(entry),
        "reason": entry.reason,
        "expires": entry.expires.isoformat() if entry.expires else None,
        "line": entry.line,
    }


def _pair(entry: Entry, listed: BaselineEntry) -> dict[str, Any]:
    shown = _listed(listed)
    return {**_found(entry), "reason": shown["reason"], "expires": shown["expires"], "line": shown["line"]}


def apply(baseline: Baseline, document: dict[str, Any], *, today: date) -> Gate:
    """Hold the findings of a report document against ``baseline``."""
    gate = Gate(path=baseline.path, strict=bool(document.get("strict")))
    found = ledger.entries(document)
    for entry in found:
        listed = baseline.get(entry.key)
        if listed is None:
            gate.new.append(entry)
        elif listed.expired(today):
            gate.expired.append((entry, listed))
        else:
            gate.accepted.append((entry, listed))
    seen = {e.key for e in found}
    tested = ledger.run_requirements(document)
    for listed in baseline.entries:
        if listed.key in seen:
            continue
        if listed.requirement in tested or listed.requirement == ledger.NO_REQUIREMENT:
            gate.fixed.append(listed)
        else:
            gate.not_checked.append(listed)
    return gate


def annotate(document: dict[str, Any], gate: Gate) -> None:
    """Mark every finding of the document with its baseline status, and add the ``baseline`` section."""
    for requirement in document.get("requirements") or []:
        for finding in [*(requirement.get("findings") or []), *(requirement.get("advisories") or [])]:
            status, listed = gate.status_of(ledger.key_of(requirement, finding))
            finding["baseline"] = {"status": status, "reason": listed.reason if listed else None}
    document["baseline"] = gate.to_dict()


def entries_to_write(
    document: dict[str, Any], previous: Baseline | None, *, today: date
) -> list[BaselineEntry]:
    """The baseline of this run's findings; reasons and dates of entries already listed are kept."""
    placeholder = f"recorded by --write-baseline on {today.isoformat()}: say why it is accepted"
    written: list[BaselineEntry] = []
    for entry in ledger.entries(document):
        listed = previous.get(entry.key) if previous is not None else None
        written.append(
            BaselineEntry(
                requirement=entry.requirement,
                fingerprint=entry.fingerprint,
                kind=entry.kind,
                summary=entry.summary,
                reason=listed.reason if listed else placeholder,
                expires=listed.expires if listed else None,
            )
        )
    return written
