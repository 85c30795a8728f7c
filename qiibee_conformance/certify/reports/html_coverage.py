"""The coverage section of the HTML report: a matrix to read at a glance.

One row per documented operation: its documented statuses (green: observed, grey: never
seen; red: an undocumented status the target answered), then one cell per requirement
group that sent it, coloured by the worst status among that group's requirements
(failed, advisory, untestable, verified). Below it, every requirement as a coloured tile.
"""

from __future__ import annotations

from typing import Any

from qiibee_conformance.certify.reports.html_common import e

# Worst first: the colour of a cell is its worst requirement's.
_SEVERITY = ("failed", "advisory", "untestable", "verified", "not-run")


def _worst(statuses: list[str]) -> str:
    return min(statuses, key=lambda s: _SEVERITY.index(s) if s in _SEVERITY else len(_SEVERITY))


def _status_chips(operation: dict[str, Any]) -> str:
    seen = set(operation.get("observed") or [])
    chips = [
        f'<span class="chip {"seen" if s in seen else "unseen"}" '
        f'title="{e("observed" if s in seen else "documented, never seen")}">{e(s)}</span>'
        for s in operation.get("documented") or []
    ]
    chips += [
        f'<span class="chip undocumented" title="undocumented status the target answered">{e(s)}</span>'
        for s in operation.get("undocumented") or []
    ]
    return "".join(chips)


def _group_cell(ids: list[str], statuses: dict[str, str]) -> str:
    if not ids:
        return '<td class="cell"></td>'
    worst = _worst([statuses.get(i, "not-run") for i in ids])
    title = ", ".join(f"{i} {statuses.get(i, '')}" for i in ids)
    return f'<td class="cell {e(worst)}" title="{e(title)}">{len(ids)}</td>'


def _groups(document: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(str(r["group"]) for r in document.get("requirements", [])))


def _matrix(document: dict[str, Any], coverage: dict[str, Any]) -> str:
    groups = _groups(document)
    group_of = {r["id"]: r["group"] for r in document.get("requirements", [])}
    statuses = {r["id"]: r["status"] for r in document.get("requirements", [])}
    head = "<tr><th>Operation</th><th>Requests</th><th>Documented statuses</th>"
    head += "".join(f"<th>{e(g)}</th>" for g in groups) + "</tr>"
    rows = []
    for op in coverage.get("operations", []):
        cells = "".join(
            _group_cell([i for i in op.get("requirements", []) if group_of.get(i) == g], statuses) for g in groups
        )
        rows.append(f"<tr><td><code>{e(op['operation'])}</code></td><td>{e(op['requests'])}</td>"
                    f"<td>{_status_chips(op)}</td>{cells}</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _tiles(coverage: dict[str, Any], titles: dict[str, str]) -> str:
    tiles = "".join(
        f'<a href="#req-{e(r["id"])}" class="chip {e(r["status"])}" '
        f'title="{e(titles.get(r["id"], ""))} — {e(r["status"])}; {len(r["operations"])} operation(s)">'
        f"{e(r['id'])}</a>"
        for r in coverage.get("requirements", [])
    )
    return f"<div>{tiles}</div>"


def _unmatched(coverage: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td><code>{e(u['request'])}</code></td><td>{e(', '.join(f'{k}×{v}' for k, v in u['statuses'].items()))}"
        f"</td><td>{e(', '.join(u['requirements']))}</td></tr>"
        for u in coverage.get("unmatched", [])
    )
    if not rows:
        return ""
    return ("<h3>Requests on no documented operation</h3><table><tr><th>Request</th><th>Statuses</th>"
            f"<th>Requirements</th></tr>{rows}</table>")


def render(document: dict[str, Any]) -> str:
    """The coverage section; empty when the report has no coverage."""
    coverage = document.get("coverage") or {}
    summary = coverage.get("summary")
    if not summary:
        return ""
    titles = {r["id"]: r["title"] for r in document.get("requirements", [])}
    return (
        "<h2>Coverage</h2>"
        f"<p>{e(summary['operations_exercised'])} of {e(summary['operations'])} operations exercised; "
        f"{e(summary['documented_statuses_observed'])} of {e(summary['documented_statuses'])} documented "
        f"statuses observed; {e(summary['undocumented_statuses'])} undocumented status(es) answered.</p>"
        '<div class="legend">Statuses: <span class="chip seen">observed</span><span class="chip unseen">never '
        'seen</span><span class="chip undocumented">undocumented</span>. Group cells: how many of the group\'s '
        "requirements sent the operation, coloured by the worst of their statuses "
        '(<span class="chip failed">failed</span><span class="chip advisory">advisory</span>'
        '<span class="chip untestable">untestable</span><span class="chip verified">verified</span>).</div>'
        + _matrix(document, coverage)
        + "<h3>Requirements</h3>"
        + _tiles(coverage, titles)
        + _unmatched(coverage)
    )
