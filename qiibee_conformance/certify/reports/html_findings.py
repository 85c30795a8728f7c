"""Findings and advisories in the HTML report: a short list up front, each item linked to its
evidence box further down (the message, expected and actual, every exchange with its curl line).

Every value from the target or a test is escaped: a response body is data, never markup.
"""

from __future__ import annotations

import json
from typing import Any

from qiibee_conformance.certify.ledger import summary_of
from qiibee_conformance.certify.reports.html_common import e, pre

_BASELINE_TAGS = {
    "accepted": ("accepted", "accepted by the baseline"),
    "expired": ("expired", "baseline entry expired: counts again"),
    "new": ("new", "new: not in the baseline"),
}


def baseline_tag(finding: dict[str, Any]) -> str:
    """A small tag saying what the baseline made of ``finding`` (nothing without a baseline)."""
    mark = finding.get("baseline") or {}
    css, text = _BASELINE_TAGS.get(str(mark.get("status")), ("", ""))
    if not text:
        return ""
    reason = f": {mark['reason']}" if mark.get("reason") else ""
    return f'<span class="tag {css}" title="{e(text + reason)}">{e(text)}</span>'


def found_list(requirements: list[dict[str, Any]], *, kind: str) -> str:
    """One line per finding (``kind`` "finding") or advisory, linked to its evidence box."""
    items = []
    for r in requirements:
        listed = (r.get("findings") or r.get("advisories") or []) if kind == "finding" else r.get("advisories") or []
        for finding in listed:
            items.append(
                f'<li><a href="#{kind}-{e(r["id"])}"><b>{e(r["id"])}</b></a> {e(r["title"])}: '
                f"{e(summary_of(str(finding.get('message') or ''), finding.get('evidence') or []))}"
                f"{baseline_tag(finding)} "
                f'<a href="#{kind}-{e(r["id"])}">evidence ↓</a></li>'
            )
    return f'<ul class="found">{"".join(items)}</ul>' if items else ""


def exchange(number: int, data: dict[str, Any]) -> str:
    """One request and its response, with the curl line that replays it."""
    request = data.get("request") or {}
    response = data.get("response") or {}
    parts = [f"<h3>Exchange {number}: {e(request.get('method'))} {e(request.get('url'))} → "
             f"{e(response.get('status'))}</h3>"]
    if data.get("curl"):
        parts.append("<div>Reproduce:</div>" + pre(data["curl"]))
    if request:
        body = request.get("body")
        parts.append("<div>Request:</div>" + pre(
            json.dumps(request.get("headers", {}), indent=1) + ("\n\n" + str(body) if body is not None else "")
        ))
    if response:
        parts.append("<div>Response:</div>" + pre(
            json.dumps(response.get("headers", {}), indent=1) + "\n\n" + str(response.get("body", ""))
        ))
    other = {k: v for k, v in data.items() if k not in {"request", "response", "curl"} and v}
    if other:
        parts.append(pre(json.dumps(other, indent=1)))
    return "".join(parts)


def _one_finding(finding: dict[str, Any]) -> list[str]:
    reading = f" (reading: DECISIONS {finding['decision']})" if finding.get("decision") else ""
    parts = [f"<p><b>{e(finding.get('message'))}</b>{e(reading)}{baseline_tag(finding)}</p>"]
    facts = [(k, finding.get(k)) for k in ("expected", "actual", "fingerprint") if finding.get(k)]
    if facts:
        parts.append('<dl class="meta">' + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in facts) + "</dl>")
    parts += [exchange(number, x) for number, x in enumerate(finding.get("evidence") or [], start=1)]
    return parts


def finding_box(r: dict[str, Any], findings: list[dict[str, Any]], *, kind: str) -> str:
    """The evidence of one requirement's findings (``kind`` "finding") or advisories."""
    css = "finding" if kind == "finding" else "finding advisory-box"
    parts = [
        f'<div class="{css}" id="{kind}-{e(r["id"])}"><h3>{e(r["id"])} — {e(r["title"])}</h3>',
        f'<div class="source">Level: {e(r["level"])}. Basis: {e(r["source"])}</div>',
    ]
    for finding in findings:
        parts += _one_finding(finding)
    if kind == "finding":
        for test in (t for t in r["tests"] if t["outcome"] == "fail" and t.get("details")):
            parts.append(f"<details><summary>Full failure output of {e(test['nodeid'])}</summary>"
                         f"{pre(test['details'])}</details>")
    parts.append("</div>")
    return "".join(parts)


def unmarked_box(test: dict[str, Any]) -> str:
    """A failed test that names no requirement, with its evidence."""
    exchanges = "".join(exchange(i, x) for i, x in enumerate(test.get("evidence") or [], start=1))
    return f'<div class="finding"><h3>{e(test["nodeid"])}</h3>{pre(test["message"])}{exchanges}</div>'
