"""The terminal summary: one table of requirements, then each finding with how to reproduce it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from qiibee_conformance.certify.results import FAIL, NOT_RUN, Certification

_MESSAGE_LINES = 6


def _first_lines(text: str, count: int) -> list[str]:
    lines = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) > count:
        return [*lines[:count], f"... ({len(lines) - count} more lines in the reports)"]
    return lines


def render(cert: Certification, reports: Sequence[Path]) -> str:
    out: list[str] = [""]
    shown = [r for r in cert.requirements if r.status != NOT_RUN]
    not_run = [r for r in cert.requirements if r.status == NOT_RUN and r.message != "not selected (--only)"]
    unselected = len(cert.requirements) - len(shown) - len(not_run)
    width = max((len(r.title) for r in shown), default=10)
    width = min(width, 72)
    out.append(f"{'requirement':<9} {'status':<8} {'tests':>5} {'time':>7}  title")
    for r in shown:
        title = r.title if len(r.title) <= width else r.title[: width - 1] + "…"
        out.append(f"{r.id:<9} {r.status.upper():<8} {len(r.tests):>5} {r.duration:>6.1f}s  {title}")
    for test in cert.unmarked:
        out.append(f"{'-':<9} {test.outcome.upper():<8} {1:>5} {test.duration:>6.1f}s  {test.nodeid}")
    if not_run:
        out.append(f"not run ({not_run[0].message}): {', '.join(r.id for r in not_run)}")
    if unselected:
        out.append(f"not selected (--only): {unselected} requirements")
    findings = cert.failed
    if findings or cert.failed_unmarked:
        out += ["", "Findings:"]
    for r in findings:
        out += ["", f"{r.id}  {r.title}", f"  source: {r.source}"]
        for test in (t for t in r.tests if t.outcome == FAIL):
            out.append(f"  test:   {test.nodeid}")
            out += [f"    {line}" for line in _first_lines(test.message, _MESSAGE_LINES)]
        curls = [e.get("curl") for e in r.evidence if e.get("curl")]
        if curls:
            out.append(f"  reproduce: {curls[-1]}")
    for test in cert.failed_unmarked:
        out += ["", f"(no requirement id) {test.nodeid}"]
        out += [f"    {line}" for line in _first_lines(test.message, _MESSAGE_LINES)]
    counts = cert.status_counts()
    requests = cert.counts
    out += [
        "",
        f"verdict: {cert.verdict.upper()}  "
        f"({counts['pass']} passed, {counts['fail']} failed, {counts['skipped']} skipped, "
        f"{counts['not-run']} not run; {cert.duration:.1f}s)",
        f"requests: {requests.get('total_requests', 0)} total "
        f"({requests.get('check_requests', 0)} by checks, {requests.get('schemathesis_requests', 0)} by "
        f"schemathesis for {requests.get('schemathesis_cases', 0)} generated cases)",
        f"run id: {cert.run_id}",
    ]
    if reports:
        out.append("reports: " + ", ".join(str(p) for p in reports))
    return "\n".join(out) + "\n"
