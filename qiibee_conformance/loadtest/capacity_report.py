"""The capacity search's reports: ``capacity.json``, the chart ``capacity.svg``, and
``capacity.html`` (the chart embedded, the figures and every step), for a person to open.

The figures count only when the run's money reconciled and the target kept its contract:
a capacity reached by losing transactions is no capacity (``valid`` says so).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from qiibee_conformance.loadtest.capacity import CapacityResult, StepResult, briefly
from qiibee_conformance.loadtest.capacity_chart import render_svg
from qiibee_conformance.redact import Redactor


@dataclass(frozen=True)
class CapacityFiles:
    json: Path
    svg: Path
    html: Path


def capacity_document(
    result: CapacityResult, *, target: str, valid: bool, reasons: list[str]
) -> dict[str, Any]:
    return {
        "target": target,
        "valid": valid,
        "invalid_because": reasons,
        "headline": result.headline(),
        **result.to_dict(),
    }


def _cell(value: object) -> str:
    return f"<td>{escape('' if value is None else str(value))}</td>"


def _row(step: StepResult) -> str:
    verdict = "held" if step.ok else briefly(step.breach_text, keep=3)
    cells = [
        step.users, f"{step.requests_per_s:.1f}", step.p50_ms, step.p95_ms, step.p99_ms,
        f"{100 * float(step.error_rate):.2f} %", step.rate_limited, verdict,
    ]  # fmt: skip
    style = "" if step.ok else ' class="broke"'
    return f"<tr{style}>" + "".join(_cell(c) for c in cells) + "</tr>"


_STYLE = """body{font-family:sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}td:last-child{text-align:left}
tr.broke{background:#fdecea}.bad{color:#b00020;font-weight:bold}"""


def render_html(document: dict[str, Any], result: CapacityResult, svg: str) -> str:
    valid = document["valid"]
    verdict = (
        "<p>Reconciliation and contract held: the figures stand.</p>"
        if valid
        else f'<p class="bad">Not a capacity: {escape("; ".join(document["invalid_because"]))}</p>'
    )
    header = "<tr><th>users</th><th>req/s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th>"
    header += "<th>errors</th><th>rate limited</th><th>SLOs</th></tr>"
    rows = "\n".join(_row(s) for s in result.steps)
    search = document["search"]
    return (
        f"<!doctype html>\n<html><head><meta charset='utf-8'><title>Capacity of {escape(document['target'])}"
        f"</title><style>{_STYLE}</style></head><body>\n<h1>Capacity search</h1>\n"
        f"<p>Target {escape(document['target'])}; SLO file {escape(str(search['slo']))}; steps of "
        f"{search['step_users']} users up to {search['max_users']}, each held {search['step_time_s']:g} s "
        f"(measured over the last {search['measured_s']:g} s).</p>\n"
        f"<p><strong>{escape(document['headline'])}</strong></p>\n{verdict}\n{svg}\n"
        f"<h2>Steps, in the order they ran</h2>\n<table>{header}\n{rows}\n</table>\n</body></html>\n"
    )


def write_capacity(
    result: CapacityResult,
    directory: Path,
    *,
    target: str,
    valid: bool,
    reasons: list[str],
    redactor: Redactor,
) -> CapacityFiles:
    """Write the three files; every text passes the redactor (the key never appears)."""
    files = CapacityFiles(
        directory / "capacity.json", directory / "capacity.svg", directory / "capacity.html"
    )
    directory.mkdir(parents=True, exist_ok=True)
    document = capacity_document(result, target=target, valid=valid, reasons=reasons)
    svg = render_svg(result, f"Capacity of {target}")
    files.json.write_text(redactor.text(json.dumps(document, indent=2)) + "\n", encoding="utf-8")
    files.svg.write_text(redactor.text(svg), encoding="utf-8")
    files.html.write_text(redactor.text(render_html(document, result, svg)), encoding="utf-8")
    return files
