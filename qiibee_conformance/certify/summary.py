"""The terminal summary of a certification.

First the table of requirements, then what a reader came for: each failure with how to
reproduce it (and whether the baseline accepts it), each advisory, each untestable
requirement with its reason, the coverage, the verdict with its counts and, with a
baseline, what the gate decided.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qiibee_conformance.certify import ledger
from qiibee_conformance.certify.baseline import ACCEPTED, EXPIRED, Gate
from qiibee_conformance.certify.gate_lines import gate_lines
from qiibee_conformance.certify.results import (
    ADVISORY,
    FAILED,
    NOT_RUN,
    UNTESTABLE,
    VERIFIED,
    Certification,
    RequirementResult,
)

_MESSAGE_LINES = 6
_BASELINE_NOTE = {ACCEPTED: "accepted by the baseline", EXPIRED: "baseline entry expired: counts again"}


def _first_lines(text: str, count: int) -> list[str]:
    lines = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) > count:
        return [*lines[:count], f"... ({len(lines) - count} more lines in the reports)"]
    return lines


def _baseline_note(r: RequirementResult, finding: dict[str, Any], gate: Gate | None) -> list[str]:
    if gate is None:
        return []
    status, listed = gate.status_of(ledger.key_of({"id": r.id, "level": r.level}, finding))
    note = _BASELINE_NOTE.get(status)
    if note is None:
        return ["    baseline: new (not in the baseline)"]
    return [f"    baseline: {note} ({listed.reason if listed else ''})"]


def _finding_lines(
    r: RequirementResult, finding: dict[str, Any], gate: Gate | None, reading: str | None
) -> list[str]:
    out = [f"    {line}" for line in _first_lines(str(finding.get("message", "")), _MESSAGE_LINES)]
    if reading:
        out.append(f"    reading: {reading}")
    out += _baseline_note(r, finding, gate)
    curl = ledger.last_curl(finding)
    if curl:
        out.append(f"  reproduce: {curl}")
    return out


def _failure_lines(r: RequirementResult, gate: Gate | None) -> list[str]:
    out = ["", f"{r.id}  {r.title}  [{r.level}]", f"  basis: {r.source}"]
    for finding in r.findings or r.advisories:  # strict mode: the advisories are what failed
        reading = f"DECISIONS {finding['decision']}" if finding.get("decision") else None
        out += _finding_lines(r, finding, gate, reading)
    return out


def _advisory_lines(r: RequirementResult, gate: Gate | None) -> list[str]:
    out = ["", f"{r.id}  {r.title}"]
    for advisory in r.advisories:
        reading = f"DECISIONS {advisory.get('decision') or '?'} (warn level: not a failure unless --strict)"
        out += _finding_lines(r, advisory, gate, reading)
    return out


def _table(cert: Certification) -> list[str]:
    out: list[str] = []
    shown = [r for r in cert.requirements if r.status != NOT_RUN]
    not_run = [r for r in cert.requirements if r.status == NOT_RUN and r.message != "not selected (--only)"]
    unselected = len(cert.requirements) - len(shown) - len(not_run)
    width = min(max((len(r.title) for r in shown), default=10), 72)
    out.append(f"{'requirement':<11} {'status':<10} {'level':<5} {'time':>7}  title")
    for r in shown:
        title = r.title if len(r.title) <= width else r.title[: width - 1] + "…"
        out.append(f"{r.id:<11} {r.status.upper():<10} {r.level:<5} {r.duration:>6.1f}s  {title}")
    for test in cert.unmarked:
        out.append(f"{'-':<11} {test.outcome.upper():<10} {'':<5} {test.duration:>6.1f}s  {test.nodeid}")
    if not_run:
        out.append(f"not run ({not_run[0].message}): {', '.join(r.id for r in not_run)}")
    if unselected:
        out.append(f"not selected (--only): {unselected} requirements")
    return out


def _what_was_found(cert: Certification, gate: Gate | None) -> list[str]:
    out: list[str] = []
    if cert.failed or cert.failed_unmarked:
        heading = "Findings (strict mode: advisories count as failures):" if cert.strict else "Findings:"
        out += ["", heading]
    for r in cert.failed:
        out += _failure_lines(r, gate)
    for test in cert.failed_unmarked:
        out += ["", f"(no requirement id) {test.nodeid}"]
        out += [f"    {line}" for line in _first_lines(test.message, _MESSAGE_LINES)]
    if cert.advised:
        out += ["", "Advisories (the project's readings where the documents are silent):"]
        for r in cert.advised:
            out += _advisory_lines(r, gate)
    if cert.untestable:
        out += ["", "Untestable (the target gave no means to test; not counted as passed):"]
        out += [f"  {r.id}  {r.message.strip().splitlines()[0] if r.message.strip() else ''}"
                for r in cert.untestable]
    return out


def coverage_line(coverage: dict[str, Any]) -> str | None:
    """One line: operations exercised, documented statuses observed, undocumented ones seen."""
    summary = coverage.get("summary")
    if not summary:
        return None
    undocumented = [
        f"{op['operation']} → {', '.join(op['undocumented'])}"
        for op in coverage.get("operations", [])
        if op.get("undocumented")
    ]
    line = (
        f"coverage: {summary['operations_exercised']}/{summary['operations']} operations exercised, "
        f"{summary['documented_statuses_observed']}/{summary['documented_statuses']} documented statuses "
        "observed"
    )
    return line + (f"; undocumented statuses: {'; '.join(undocumented)}" if undocumented else "")


def latency_line(latency: dict[str, dict[str, float | int]]) -> str | None:
    """One line: p50/p95/max of every request, and the p95 of each sender."""
    every = latency.get("all")
    if not every or not every.get("requests"):
        return None
    parts = [f"{source} p95 {figures['p95_ms']} ms" for source, figures in latency.items()
             if source != "all" and figures.get("requests")]
    return (f"latency: p50 {every['p50_ms']} ms, p95 {every['p95_ms']} ms, max {every['max_ms']} ms"
            f" ({', '.join(parts)})")


def _closing(cert: Certification, reports: Sequence[Path], gate: Gate | None) -> list[str]:
    counts = cert.status_counts()
    requests = cert.counts
    mode = ", strict" if cert.strict else ""
    all_accepted = gate is not None and bool(cert.failed) and not gate.blocking
    accepted = " — every failure accepted by the baseline" if all_accepted else ""
    out = [
        "",
        f"verdict: {cert.verdict}{accepted}  ({counts[VERIFIED]} verified, {counts[ADVISORY]} advisory, "
        f"{counts[FAILED]} failed, {counts[UNTESTABLE]} untestable, {counts[NOT_RUN]} not run; "
        f"{cert.duration:.1f}s{mode})",
        f"requests: {requests.get('total_requests', 0)} total "
        f"({requests.get('check_requests', 0)} by checks, {requests.get('schemathesis_requests', 0)} by "
        f"schemathesis for {requests.get('schemathesis_cases', 0)} generated cases)",
    ]
    out += [line for line in (latency_line(cert.latency), coverage_line(cert.coverage)) if line]
    out.append(f"run id: {cert.run_id}")
    if gate is not None:
        out += gate_lines(gate)
    if cert.run_error:
        out.append(f"incomplete: {cert.run_error}")
    if reports:
        out.append("reports: " + ", ".join(str(p) for p in reports))
    return out


def render(cert: Certification, reports: Sequence[Path], gate: Gate | None = None) -> str:
    out = ["", *_table(cert), *_what_was_found(cert, gate), *_closing(cert, reports, gate)]
    return "\n".join(out) + "\n"
