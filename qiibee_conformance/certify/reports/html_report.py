"""The human-readable report: one self-contained HTML file (no scripts, fonts or links out).

Rendered from the JSON report document. Every value that came from the target
or from a test is HTML-escaped: a response body is data, never markup.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

FILENAME = "certification.html"

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1b1f24;background:#f6f8fa}
main{max-width:1200px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 10px} h3{font-size:15px;margin:18px 0 6px}
.banner{padding:18px 24px;border-radius:8px;color:#fff;margin-bottom:20px}
.banner.conforms{background:#1a7f37} .banner.advisories{background:#4d7c0f}
.banner.nonconforming{background:#cf222e} .banner.incomplete{background:#9a6700}
.banner p{margin:4px 0 0}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{border:1px solid #d0d7de;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#eaeef2}
td.status{font-weight:600;white-space:nowrap}
.verified{color:#1a7f37} .failed{color:#cf222e} .advisory{color:#9a6700} .untestable{color:#8250df}
.not-run{color:#57606a}
.counts{display:flex;gap:12px;margin:0 0 16px} .counts div{background:#fff;border:1px solid #d0d7de;
border-radius:6px;padding:8px 14px;font-size:13px} .counts b{display:block;font-size:20px}
.source{color:#57606a;font-size:12px}
pre{background:#0d1117;color:#e6edf3;padding:10px;border-radius:6px;overflow-x:auto;white-space:pre-wrap;
word-break:break-all;font-size:12px;max-height:480px;overflow-y:auto}
.finding{background:#fff;border:1px solid #d0d7de;border-left:4px solid #cf222e;border-radius:6px;padding:12px 16px;
margin-bottom:16px} .finding.advisory-box{border-left-color:#9a6700}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;font-size:13px}
dl.meta dt{font-weight:600} dl.meta dd{margin:0}
"""


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _pre(text: object) -> str:
    return f"<pre>{_e(text)}</pre>"


def _meta(document: dict[str, Any]) -> str:
    counts = document.get("counts", {})
    summary = document.get("summary", {})
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
        ("Settings", ", ".join(f"{k}={v}" for k, v in document.get("settings", {}).items())),
        ("Tool", f"{document['tool']} {document['version']}"),
    ]
    return '<dl class="meta">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows) + "</dl>"


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


def _banner(document: dict[str, Any]) -> str:
    verdict = document["verdict"]
    req = document.get("summary", {}).get("requirements", {})
    css, text = _VERDICT_TEXT.get(verdict, ("incomplete", verdict))
    text = text.format(failed=req.get("failed", 0))
    if document.get("strict"):
        text += " Strict mode: advisories count as failures."
    extra = f"<p>{_e(document['run_error'])}</p>" if document.get("run_error") else ""
    return f'<div class="banner {css}"><h1>{_e(verdict)}</h1><p>{_e(text)}</p>{extra}</div>'


def _counts(document: dict[str, Any]) -> str:
    req = document.get("summary", {}).get("requirements", {})
    cells = "".join(
        f'<div class="{_e(k)}"><b>{_e(req.get(k, 0))}</b>{_e(k)}</div>'
        for k in ("verified", "advisory", "failed", "untestable", "not-run")
    )
    return f'<div class="counts">{cells}</div>'


def _table(requirements: list[dict[str, Any]]) -> str:
    rows = []
    for r in requirements:
        anchor = {"failed": "finding", "advisory": "advisory"}.get(r["status"])
        link = f'<a href="#{anchor}-{_e(r["id"])}">{_e(r["id"])}</a>' if anchor else _e(r["id"])
        rows.append(
            f"<tr><td>{link}</td><td>{_e(r['group'])}</td><td>{_e(r['level'])}</td>"
            f'<td class="status {_e(r["status"])}">{_e(r["status"])}</td>'
            f'<td>{_e(r["title"])}<div class="source">{_e(r["source"])}</div></td>'
            f"<td>{_e(r['message'][:300])}{_notes(r)}</td><td>{len(r['tests'])}</td>"
            f"<td>{r['duration_s']:.2f}s</td></tr>"
        )
    head = "<tr><th>Id</th><th>Group</th><th>Level</th><th>Status</th><th>Requirement and basis</th>"
    head += "<th>Result</th><th>Tests</th><th>Time</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _notes(requirement: dict[str, Any]) -> str:
    notes = requirement.get("notes") or []
    return "".join(f'<div class="source">note: {_e(n)}</div>' for n in notes)


def _untestable(requirements: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{_e(r['id'])}</td><td>{_e(r['title'])}</td><td>{_e(r['message'][:400])}</td></tr>"
        for r in requirements
    )
    return f"<table><tr><th>Id</th><th>Requirement</th><th>Why it could not be tested</th></tr>{rows}</table>"


def _exchange(number: int, exchange: dict[str, Any]) -> str:
    request = exchange.get("request") or {}
    response = exchange.get("response") or {}
    parts = [f"<h3>Exchange {number}: {_e(request.get('method'))} {_e(request.get('url'))} → "
             f"{_e(response.get('status'))}</h3>"]
    if exchange.get("curl"):
        parts.append("<div>Reproduce:</div>" + _pre(exchange["curl"]))
    if request:
        body = request.get("body")
        parts.append("<div>Request:</div>" + _pre(
            json.dumps(request.get("headers", {}), indent=1) + ("\n\n" + str(body) if body is not None else "")
        ))
    if response:
        parts.append("<div>Response:</div>" + _pre(
            json.dumps(response.get("headers", {}), indent=1) + "\n\n" + str(response.get("body", ""))
        ))
    other = {k: v for k, v in exchange.items() if k not in {"request", "response", "curl"} and v}
    if other:
        parts.append(_pre(json.dumps(other, indent=1)))
    return "".join(parts)


def _finding_box(r: dict[str, Any], findings: list[dict[str, Any]], *, kind: str) -> str:
    css = "finding" if kind == "finding" else "finding advisory-box"
    parts = [
        f'<div class="{css}" id="{kind}-{_e(r["id"])}"><h3>{_e(r["id"])} — {_e(r["title"])}</h3>',
        f'<div class="source">Level: {_e(r["level"])}. Basis: {_e(r["source"])}</div>',
    ]
    for finding in findings:
        reading = f" (reading: DECISIONS {finding['decision']})" if finding.get("decision") else ""
        parts.append(f"<p><b>{_e(finding.get('message'))}</b>{_e(reading)}</p>")
        facts = [(k, finding.get(k)) for k in ("expected", "actual") if finding.get(k)]
        if facts:
            parts.append(
                '<dl class="meta">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts) + "</dl>"
            )
        for number, exchange in enumerate(finding.get("evidence") or [], start=1):
            parts.append(_exchange(number, exchange))
    if kind == "finding":
        for test in (t for t in r["tests"] if t["outcome"] == "fail" and t.get("details")):
            parts.append(f"<details><summary>Full failure output of {_e(test['nodeid'])}</summary>"
                         f"{_pre(test['details'])}</details>")
    parts.append("</div>")
    return "".join(parts)


def render(document: dict[str, Any]) -> str:
    requirements = document.get("requirements", [])
    failures = [r for r in requirements if r["status"] == "failed"]
    advised = [r for r in requirements if r["advisories"] and r["status"] != "failed"]
    untestable = [r for r in requirements if r["status"] == "untestable"]
    unmarked_failed = [t for t in document.get("unmarked_tests", []) if t["outcome"] == "fail"]
    body = [_banner(document), _counts(document)]
    if document.get("collection_errors"):
        body.append("<h2>Suite errors</h2>" + _pre("\n".join(document["collection_errors"])))
    if failures or unmarked_failed:
        body.append("<h2>Findings</h2>")
        body.extend(_finding_box(r, r["findings"] or r["advisories"], kind="finding") for r in failures)
        for test in unmarked_failed:
            body.append(
                f'<div class="finding"><h3>{_e(test["nodeid"])}</h3>{_pre(test["message"])}'
                + "".join(_exchange(i, e) for i, e in enumerate(test.get("evidence") or [], start=1))
                + "</div>"
            )
    if advised:
        body.append("<h2>Advisories</h2><p>The project's readings where the documents are silent "
                    "(warn level): reported with evidence, not failures unless the run is strict.</p>")
        body.extend(_finding_box(r, r["advisories"], kind="advisory") for r in advised)
    if untestable:
        body.append("<h2>Untestable</h2>" + _untestable(untestable))
    body.append("<h2>Run</h2>" + _meta(document))
    body.append("<h2>All requirements</h2>" + _table(requirements))
    title = f"qiibee-conformance certification: {document['verdict']} — {document['target']}"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )


def write(document: dict[str, Any], directory: Path) -> Path:
    path = directory / FILENAME
    path.write_text(render(document), encoding="utf-8")
    return path
