"""The human-readable report: one self-contained HTML file (no scripts, fonts or links out).

Rendered from the JSON report document, in the order a reader needs it: the verdict
(and what the baseline made of it), the findings and advisories each linked to its
evidence, the coverage, the full table of requirements, then the evidence itself and
the run's details. Every value that came from the target or from a test is
HTML-escaped: a response body is data, never markup.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qiibee_conformance.certify.reports import html_coverage
from qiibee_conformance.certify.reports.html_common import CSS, e, pre
from qiibee_conformance.certify.reports.html_findings import finding_box, found_list, unmarked_box

FILENAME = "certification.html"


def _meta(document: dict[str, Any]) -> str:
    counts = document.get("counts", {})
    summary = document.get("summary", {})
    latency = (document.get("latency_ms") or {}).get("all") or {}
    rows = [
        ("Target", document["target"] + (" (embedded reference mock)" if document.get("embedded_mock") else "")),
        ("Run id", document["run_id"]),
        ("Started", document["started_at"]),
        ("Duration", f"{document['duration_s']:.1f} s"),
        ("Groups", document["selected_groups"] if isinstance(document["selected_groups"], str)
         else ", ".join(document["selected_groups"])),
        ("Requirements", ", ".join(f"{v} {k}" for k, v in summary.get("requirements", {}).items())),
        ("Tests", ", ".join(f"{v} {k}" for k, v in summary.get("tests", {}).items())),
        ("Requests", ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())),
        ("Latency", ", ".join(f"{k.replace('_ms', '')} {v} ms" for k, v in latency.items() if k != "requests")),
        ("Settings", ", ".join(f"{k}={v}" for k, v in document.get("settings", {}).items())),
        ("Tool", f"{document['tool']} {document['version']}"),
    ]
    return '<dl class="meta">' + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in rows) + "</dl>"


_VERDICT_TEXT = {
    "CONFORMS": ("conforms", "The target conforms to the documented contract."),
    "CONFORMS WITH ADVISORIES": (
        "advisories",
        "The target conforms; some of the project's readings where the documents are silent were not met "
        "(advisories, below).",
    ),
    "NONCONFORMING": ("nonconforming", "The target breaks {failed} requirement(s)."),
    "INCOMPLETE": ("incomplete", "The certification could not be completed."),
}


def _gate_text(document: dict[str, Any]) -> str:
    gate = document.get("baseline")
    if not gate:
        return ""
    decision = (
        f"{gate['blocking']} finding(s) not accepted: the gate fails." if gate.get("blocking")
        else "Every failure found is accepted by the baseline: the gate passes."
    )
    fixed = f" {len(gate['fixed'])} entry(ies) no longer found (fixed)." if gate.get("fixed") else ""
    return (f"<p>Baseline {e(gate['file'])}: {len(gate['accepted'])} accepted, {len(gate['new'])} new, "
            f"{len(gate['expired'])} expired. {e(decision)}{e(fixed)}</p>")


def _banner(document: dict[str, Any]) -> str:
    verdict = document["verdict"]
    req = document.get("summary", {}).get("requirements", {})
    css, text = _VERDICT_TEXT.get(verdict, ("incomplete", verdict))
    text = text.format(failed=req.get("failed", 0))
    if document.get("strict"):
        text += " Strict mode: advisories count as failures."
    extra = f"<p>{e(document['run_error'])}</p>" if document.get("run_error") else ""
    return (f'<div class="banner {css}"><h1>{e(verdict)}</h1><p>{e(text)}</p>{extra}'
            f"{_gate_text(document)}</div>")


def _counts(document: dict[str, Any]) -> str:
    req = document.get("summary", {}).get("requirements", {})
    cells = "".join(
        f'<div class="{e(k)}"><b>{e(req.get(k, 0))}</b>{e(k)}</div>'
        for k in ("verified", "advisory", "failed", "untestable", "not-run")
    )
    return f'<div class="counts">{cells}</div>'


def _notes(requirement: dict[str, Any]) -> str:
    notes = requirement.get("notes") or []
    return "".join(f'<div class="source">note: {e(n)}</div>' for n in notes)


def _table(requirements: list[dict[str, Any]]) -> str:
    rows = []
    for r in requirements:
        anchor = {"failed": "finding", "advisory": "advisory"}.get(r["status"])
        link = f'<a href="#{anchor}-{e(r["id"])}">{e(r["id"])}</a>' if anchor else e(r["id"])
        rows.append(
            f'<tr id="req-{e(r["id"])}"><td>{link}</td><td>{e(r["group"])}</td><td>{e(r["level"])}</td>'
            f'<td class="status {e(r["status"])}">{e(r["status"])}</td>'
            f'<td>{e(r["title"])}<div class="source">{e(r["source"])}</div></td>'
            f"<td>{e(r['message'][:300])}{_notes(r)}</td><td>{len(r['tests'])}</td>"
            f"<td>{r['duration_s']:.2f}s</td></tr>"
        )
    head = "<tr><th>Id</th><th>Group</th><th>Level</th><th>Status</th><th>Requirement and basis</th>"
    head += "<th>Result</th><th>Tests</th><th>Time</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _untestable(requirements: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{e(r['id'])}</td><td>{e(r['title'])}</td><td>{e(r['message'][:400])}</td></tr>"
        for r in requirements
    )
    return f"<table><tr><th>Id</th><th>Requirement</th><th>Why it could not be tested</th></tr>{rows}</table>"


def _what_was_found(document: dict[str, Any]) -> list[str]:
    requirements = document.get("requirements", [])
    failures = [r for r in requirements if r["status"] == "failed"]
    advised = [r for r in requirements if r["advisories"] and r["status"] != "failed"]
    unmarked = [t for t in document.get("unmarked_tests", []) if t["outcome"] == "fail"]
    body: list[str] = []
    if failures or unmarked:
        body.append("<h2>Findings</h2>" + found_list(failures, kind="finding"))
        body += [f'<ul class="found"><li><b>{e(t["nodeid"])}</b> (no requirement id): see below</li></ul>'
                 for t in unmarked]
    if advised:
        body.append("<h2>Advisories</h2><p>The project's readings where the documents are silent (warn "
                    "level): reported with evidence, not failures unless the run is strict.</p>"
                    + found_list(advised, kind="advisory"))
    untestable = [r for r in requirements if r["status"] == "untestable"]
    if untestable:
        body.append("<h2>Untestable</h2>" + _untestable(untestable))
    return body


def _evidence(document: dict[str, Any]) -> list[str]:
    requirements = document.get("requirements", [])
    failures = [r for r in requirements if r["status"] == "failed"]
    advised = [r for r in requirements if r["advisories"] and r["status"] != "failed"]
    unmarked = [t for t in document.get("unmarked_tests", []) if t["outcome"] == "fail"]
    if not (failures or advised or unmarked):
        return []
    body = ["<h2>Evidence</h2>"]
    body += [finding_box(r, r["findings"] or r["advisories"], kind="finding") for r in failures]
    body += [unmarked_box(t) for t in unmarked]
    body += [finding_box(r, r["advisories"], kind="advisory") for r in advised]
    return body


def render(document: dict[str, Any]) -> str:
    body = [_banner(document), _counts(document)]
    if document.get("collection_errors"):
        body.append("<h2>Suite errors</h2>" + pre("\n".join(document["collection_errors"])))
    body += _what_was_found(document)
    body.append(html_coverage.render(document))
    body.append("<h2>All requirements</h2>" + _table(document.get("requirements", [])))
    body += _evidence(document)
    body.append("<h2>Run</h2>" + _meta(document))
    title = f"qiibee-conformance certification: {document['verdict']} — {document['target']}"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )


def write(document: dict[str, Any], directory: Path) -> Path:
    path = directory / FILENAME
    path.write_text(render(document), encoding="utf-8")
    return path
