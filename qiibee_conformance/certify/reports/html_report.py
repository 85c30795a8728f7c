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
.banner.conforms{background:#1a7f37} .banner.nonconforming{background:#cf222e} .banner.incomplete{background:#9a6700}
.banner p{margin:4px 0 0}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{border:1px solid #d0d7de;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#eaeef2}
td.status{font-weight:600;white-space:nowrap}
.pass{color:#1a7f37} .fail{color:#cf222e} .skipped{color:#9a6700} .not-run{color:#57606a}
.source{color:#57606a;font-size:12px}
pre{background:#0d1117;color:#e6edf3;padding:10px;border-radius:6px;overflow-x:auto;white-space:pre-wrap;
word-break:break-all;font-size:12px;max-height:480px;overflow-y:auto}
.finding{background:#fff;border:1px solid #d0d7de;border-left:4px solid #cf222e;border-radius:6px;padding:12px 16px;
margin-bottom:16px}
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


def _banner(document: dict[str, Any]) -> str:
    verdict = document["verdict"]
    req = document.get("summary", {}).get("requirements", {})
    text = {
        "conforms": "The target conforms to the documented contract.",
        "nonconforming": f"The target breaks {req.get('fail', 0)} documented requirement(s).",
        "incomplete": "The certification could not be completed.",
    }.get(verdict, verdict)
    extra = f"<p>{_e(document['run_error'])}</p>" if document.get("run_error") else ""
    return (
        f'<div class="banner {_e(verdict)}"><h1>{_e(verdict.upper())}</h1>'
        f"<p>{_e(text)}</p>{extra}</div>"
    )


def _table(requirements: list[dict[str, Any]]) -> str:
    rows = []
    for r in requirements:
        link = f'<a href="#finding-{_e(r["id"])}">{_e(r["id"])}</a>' if r["status"] == "fail" else _e(r["id"])
        rows.append(
            f"<tr><td>{link}</td><td>{_e(r['group'])}</td>"
            f'<td class="status {_e(r["status"])}">{_e(r["status"])}</td>'
            f'<td>{_e(r["title"])}<div class="source">{_e(r["source"])}</div></td>'
            f"<td>{_e(r['message'][:300])}</td><td>{len(r['tests'])}</td><td>{r['duration_s']:.2f}s</td></tr>"
        )
    head = "<tr><th>Id</th><th>Group</th><th>Status</th><th>Requirement and source</th><th>Result</th>"
    head += "<th>Tests</th><th>Time</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


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


def _finding(r: dict[str, Any]) -> str:
    failed = [t for t in r["tests"] if t["outcome"] == "fail"]
    parts = [
        f'<div class="finding" id="finding-{_e(r["id"])}"><h3>{_e(r["id"])} — {_e(r["title"])}</h3>',
        f'<div class="source">Source: {_e(r["source"])}</div>',
    ]
    for test in failed:
        parts.append(f"<p><b>{_e(test['nodeid'])}</b> ({test['duration_s']:.2f}s)</p>")
        parts.append(_pre(test["message"]))
        if test.get("details"):
            parts.append(f"<details><summary>Full failure output</summary>{_pre(test['details'])}</details>")
    for number, exchange in enumerate(r.get("evidence") or [], start=1):
        parts.append(_exchange(number, exchange))
    parts.append("</div>")
    return "".join(parts)


def render(document: dict[str, Any]) -> str:
    requirements = document.get("requirements", [])
    failures = [r for r in requirements if r["status"] == "fail"]
    unmarked_failed = [t for t in document.get("unmarked_tests", []) if t["outcome"] == "fail"]
    body = [_banner(document), _meta(document)]
    if document.get("collection_errors"):
        body.append("<h2>Suite errors</h2>" + _pre("\n".join(document["collection_errors"])))
    body.append("<h2>Requirements</h2>" + _table(requirements))
    if failures or unmarked_failed:
        body.append("<h2>Findings</h2>")
        body.extend(_finding(r) for r in failures)
        for test in unmarked_failed:
            body.append(
                f'<div class="finding"><h3>{_e(test["nodeid"])}</h3>{_pre(test["message"])}'
                + "".join(_exchange(i, e) for i, e in enumerate(test.get("evidence") or [], start=1))
                + "</div>"
            )
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
