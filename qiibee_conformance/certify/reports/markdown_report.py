"""The verdict in Markdown, for a pull-request comment or a CI job summary.

Rendered from the JSON report document: the verdict and counts, what the baseline
decided, each failure with its curl line, each advisory, then the coverage in a
collapsed table. Every value from the target sits in a code span or a fenced block.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from qiibee_conformance.certify import ledger
from qiibee_conformance.certify.reports.markdown_text import cell, code, fenced

_STATUSES = ("verified", "advisory", "failed", "untestable", "not-run")
_MESSAGE_LINES = 12
_ICON = {"CONFORMS": "✅", "CONFORMS WITH ADVISORIES": "⚠️", "NONCONFORMING": "❌", "INCOMPLETE": "⏸️"}


def _head(document: dict[str, Any]) -> list[str]:
    verdict = str(document.get("verdict", ""))
    counts = document.get("summary", {}).get("requirements", {})
    strict = " · strict" if document.get("strict") else ""
    target = str(document.get("target", "")) + (" (embedded reference mock)" if document.get("embedded_mock") else "")
    out = [
        f"## {_ICON.get(verdict, '')} qiibee-conformance: {verdict}",
        "",
        f"Target {code(target)} · run id {code(document.get('run_id', ''))} · "
        f"{float(document.get('duration_s', 0)):.1f} s{strict}",
        "",
        "| " + " | ".join(_STATUSES) + " |",
        "|" + "---|" * len(_STATUSES),
        "| " + " | ".join(str(counts.get(s, 0)) for s in _STATUSES) + " |",
    ]
    if document.get("run_error"):
        out += ["", f"**Incomplete:** {cell(document['run_error'])}"]
    return out


def _gate(document: dict[str, Any]) -> list[str]:
    gate = document.get("baseline")
    if not gate:
        return []
    decision = "fails: findings not in the baseline" if gate.get("blocking") else "passes"
    out = [
        "",
        f"**Baseline** {code(gate.get('file', ''))}: {len(gate.get('accepted', []))} accepted, "
        f"{len(gate.get('new', []))} new, {len(gate.get('expired', []))} expired, "
        f"{len(gate.get('fixed', []))} fixed — the gate {decision}.",
    ]
    out += [f"- fixed (remove from the baseline): {code(f['requirement'])} {cell(f['summary'])}"
            for f in gate.get("fixed", [])]
    return out


def _baseline_mark(finding: dict[str, Any]) -> str:
    status = (finding.get("baseline") or {}).get("status")
    reason = (finding.get("baseline") or {}).get("reason")
    if status == "accepted":
        return f" — _accepted by the baseline: {cell(reason or '')}_"
    if status == "expired":
        return " — **baseline entry expired: counts again**"
    if status == "new":
        return " — **new: not in the baseline**"
    return ""


def _finding(requirement: dict[str, Any], finding: dict[str, Any]) -> list[str]:
    lines = [line for line in str(finding.get("message", "")).strip().splitlines() if line.strip()]
    shown = "\n".join(lines[:_MESSAGE_LINES]) + ("\n…" if len(lines) > _MESSAGE_LINES else "")
    out = [
        "",
        f"#### {requirement['id']} — {cell(requirement.get('title', ''))}{_baseline_mark(finding)}",
        "",
        fenced(shown, "text"),
    ]
    if finding.get("decision"):
        out.insert(3, f"Reading: DECISIONS {cell(finding['decision'])}\n")
    curl = ledger.last_curl(finding)
    if curl:
        out += ["", "Reproduce:", "", fenced(curl, "sh")]
    return out


def _findings(document: dict[str, Any]) -> list[str]:
    requirements = document.get("requirements", [])
    failed = [r for r in requirements if r.get("status") == "failed"]
    advised = [r for r in requirements if r.get("advisories") and r.get("status") != "failed"]
    out: list[str] = []
    if failed:
        out += ["", "### Failures"]
        for r in failed:
            for finding in r.get("findings") or r.get("advisories") or []:
                out += _finding(r, finding)
    for test in (t for t in document.get("unmarked_tests", []) if t.get("outcome") == "fail"):
        out += ["", f"#### {cell(test.get('nodeid', ''))}", "", fenced(str(test.get("message", "")), "text")]
    if advised:
        out += ["", "### Advisories", "", "_The project's readings where the documents are silent: not failures "
                "unless the run is strict._"]
        for r in advised:
            for advisory in r.get("advisories", []):
                out += _finding(r, advisory)
    return out


def _coverage(document: dict[str, Any]) -> list[str]:
    coverage = document.get("coverage") or {}
    summary = coverage.get("summary")
    if not summary:
        return []
    out = [
        "",
        "### Coverage",
        "",
        f"{summary['operations_exercised']}/{summary['operations']} operations exercised, "
        f"{summary['documented_statuses_observed']}/{summary['documented_statuses']} documented statuses observed.",
        "",
        "<details><summary>Per operation</summary>",
        "",
        "| operation | requests | observed | never seen | undocumented | requirements |",
        "|---|---|---|---|---|---|",
    ]
    for op in coverage.get("operations", []):
        cells = [code(op["operation"]), str(op["requests"]), ", ".join(op["observed"]) or "—",
                 ", ".join(op["never_seen"]) or "—", ", ".join(op["undocumented"]) or "—",
                 ", ".join(op["requirements"]) or "—"]
        out.append("| " + " | ".join(cells) + " |")
    return [*out, "", "</details>"]


def _figures(document: dict[str, Any]) -> list[str]:
    counts = document.get("counts", {})
    every = (document.get("latency_ms") or {}).get("all") or {}
    latency = f" · latency p50 {every['p50_ms']} ms, p95 {every['p95_ms']} ms" if every.get("requests") else ""
    return ["", f"Requests: {counts.get('total_requests', 0)} ({counts.get('check_requests', 0)} by checks, "
                f"{counts.get('schemathesis_requests', 0)} by schemathesis){latency}"]


def render(document: dict[str, Any]) -> str:
    parts = [*_head(document), *_gate(document), *_findings(document), *_coverage(document), *_figures(document)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(parts)) + "\n"


def write(document: dict[str, Any], path: Path) -> Path:
    path.write_text(render(document), encoding="utf-8")
    return path


def append(document: dict[str, Any], path: Path) -> Path:
    """Add the summary to a file others write to as well (``$GITHUB_STEP_SUMMARY``)."""
    with path.open("a", encoding="utf-8") as summary:
        summary.write(render(document))
    return path
