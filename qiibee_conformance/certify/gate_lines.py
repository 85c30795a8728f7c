"""What the baseline gate decided, as terminal lines: counts, then each new, expired and fixed entry."""

from __future__ import annotations

from qiibee_conformance.certify import ledger
from qiibee_conformance.certify.baseline import Gate
from qiibee_conformance.certify.baseline_file import BaselineEntry
from qiibee_conformance.certify.ledger import Entry


def _found(label: str, entry: Entry, gate: Gate) -> str:
    gating = "" if ledger.counts_against(entry, strict=gate.strict) else " (advisory: not gating)"
    return f"  {label:<8} {entry.requirement:<7} {entry.fingerprint}  {entry.summary}{gating}"


def _listed(label: str, entry: BaselineEntry, note: str) -> str:
    return f"  {label:<8} {entry.requirement:<7} {entry.fingerprint}  {entry.summary} ({note})"


def gate_lines(gate: Gate) -> list[str]:
    """The gate's counts, its entries worth a look, and its decision."""
    out = [
        f"baseline {gate.path}: {len(gate.accepted)} accepted, {len(gate.new)} new, {len(gate.expired)} "
        f"expired, {len(gate.fixed)} fixed, {len(gate.not_checked)} not checked"
    ]
    out += [_found("NEW", entry, gate) for entry in gate.new]
    out += [
        _found("EXPIRED", entry, gate) + f" (expired {listed.expires}; line {listed.line})"
        for entry, listed in gate.expired
    ]
    out += [_listed("FIXED", listed, f"no longer found: remove line {listed.line}") for listed in gate.fixed]
    blocking = gate.blocking
    if blocking:
        out.append(f"gate: FAIL — {len(blocking)} finding(s) not accepted by the baseline")
    else:
        out.append("gate: pass — no failure outside the baseline")
    return out
