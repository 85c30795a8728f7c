"""The terminal summary: the table of requirements, then what a reader came for: each failure
with how to reproduce it, each advisory, each untestable requirement with its reason, and
the verdict with its counts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

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


def _first_lines(text: str, count: int) -> list[str]:
    lines = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) > count:
        return [*lines[:count], f"... ({len(lines) - count} more lines in the reports)"]
    return lines


def _last_curl(finding: dict[str, Any]) -> str | None:
    curls = [e.get("curl") for e in finding.get("evidence") or [] if isinstance(e, dict) and e.get("curl")]
    return str(curls[-1]) if curls else None


def _failure_lines(r: RequirementResult) -> list[str]:
    out = ["", f"{r.id}  {r.title}  [{r.level}]", f"  basis: {r.source}"]
    findings = r.findings or r.advisories  # strict mode: the advisories are what failed
    for finding in findings:
        out += [f"    {line}" for line in _first_lines(str(finding.get("message", "")), _MESSAGE_LINES)]
        if finding.get("decision"):
            out.append(f"    reading: DECISIONS {finding['decision']}")
        curl = _last_curl(finding)
        if curl:
            out.append(f"  reproduce: {curl}")
    return out


def _advisory_lines(r: RequirementResult) -> list[str]:
    out = ["", f"{r.id}  {r.title}"]
    for advisory in r.advisories:
        out += [f"    {line}" for line in _first_lines(str(advisory.get("message", "")), _MESSAGE_LINES)]
        out.append(f"    reading: DECISIONS {advisory.get('decision') or '?'} (warn level: not a failure"
                   " unless --strict)")
        curl = _last_curl(advisory)
        if curl:
            out.append(f"  reproduce: {curl}")
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


def _what_was_found(cert: Certification) -> list[str]:
    out: list[str] = []
    if cert.failed or cert.failed_unmarked:
        heading = "Findings (strict mode: advisories count as failures):" if cert.strict else "Findings:"
        out += ["", heading]
    for r in cert.failed:
        out += _failure_lines(r)
    for test in cert.failed_unmarked:
        out += ["", f"(no requirement id) {test.nodeid}"]
        out += [f"    {line}" for line in _first_lines(test.message, _MESSAGE_LINES)]
    if cert.advised:
        out += ["", "Advisories (the project's readings where the documents are silent):"]
        for r in cert.advised:
            out += _advisory_lines(r)
    if cert.untestable:
        out += ["", "Untestable (the target gave no means to test; not counted as passed):"]
        out += [f"  {r.id}  {r.message.strip().splitlines()[0] if r.message.strip() else ''}"
                for r in cert.untestable]
    return out


def render(cert: Certification, reports: Sequence[Path]) -> str:
    counts = cert.status_counts()
    requests = cert.counts
    mode = ", strict" if cert.strict else ""
    out = ["", *_table(cert), *_what_was_found(cert)]
    out += [
        "",
        f"verdict: {cert.verdict}  ({counts[VERIFIED]} verified, {counts[ADVISORY]} advisory, "
        f"{counts[FAILED]} failed, {counts[UNTESTABLE]} untestable, {counts[NOT_RUN]} not run; "
        f"{cert.duration:.1f}s{mode})",
        f"requests: {requests.get('total_requests', 0)} total "
        f"({requests.get('check_requests', 0)} by checks, {requests.get('schemathesis_requests', 0)} by "
        f"schemathesis for {requests.get('schemathesis_cases', 0)} generated cases)",
        f"run id: {cert.run_id}",
    ]
    if cert.run_error:
        out.append(f"incomplete: {cert.run_error}")
    if reports:
        out.append("reports: " + ", ".join(str(p) for p in reports))
    return "\n".join(out) + "\n"
