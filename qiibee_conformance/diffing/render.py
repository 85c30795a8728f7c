"""A comparison as a terminal table and as Markdown (for a pull-request comment)."""

from __future__ import annotations

from typing import Any

from qiibee_conformance.certify.reports.markdown_text import cell, code
from qiibee_conformance.diffing.compare import ORDER, Comparison, Figure

_TEXT_WIDTH = 100


def _run_label(document: dict[str, Any]) -> str:
    return f"run {document.get('run_id', '?')}, {document.get('verdict', '?')}"


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    shown = f"{value:.0f}" if value == int(value) and unit != "ms" else f"{value:.1f}"
    return f"{shown} {unit}".strip()


def _delta(figure: Figure) -> str:
    if figure.old is None or figure.new is None:
        return ""
    change = figure.new - figure.old
    if change == 0:
        return "="
    sign = "+" if change > 0 else "-"
    percent = f" ({sign}{abs(change) / figure.old * 100:.0f}%)" if figure.old else ""
    return f"{sign}{_value(abs(change), figure.unit)}{percent}"


def _verdict_line(comparison: Comparison) -> str:
    new_failures = len(comparison.of_kind(ORDER[0]))
    if comparison.something_new_fails:
        return f"something new fails ({new_failures} new failure(s)): exit 1"
    return "nothing new fails: exit 0"


_PLURAL = {
    "new failure": "new failures",
    "fixed failure": "fixed failures",
    "new advisory": "new advisories",
    "fixed advisory": "fixed advisories",
}


def _count_line(comparison: Comparison) -> str:
    return ", ".join(f"{_PLURAL.get(kind, kind)}: {len(comparison.of_kind(kind))}" for kind in ORDER)


def terminal(comparison: Comparison, old_name: str, new_name: str) -> str:
    """The diff as a terminal table: the changes, the figures, the decision."""
    out = [
        f"old: {old_name} ({_run_label(comparison.old)})",
        f"new: {new_name} ({_run_label(comparison.new)})",
        "",
    ]
    if comparison.changes:
        out.append(f"{'change':<17} {'requirement':<11} finding or reason")
        for change in comparison.changes:
            text = change.text if len(change.text) <= _TEXT_WIDTH else change.text[: _TEXT_WIDTH - 1] + "…"
            out.append(f"{change.kind.upper():<17} {change.requirement:<11} {text}")
    else:
        out.append("no change in findings or untestable requirements")
    out += ["", f"{'figure':<26} {'old':>12} {'new':>12}  change"]
    for figure in comparison.figures:
        old, new = _value(figure.old, figure.unit), _value(figure.new, figure.unit)
        out.append(f"{figure.name:<26} {old:>12} {new:>12}  {_delta(figure)}")
    out += ["", _count_line(comparison), _verdict_line(comparison)]
    return "\n".join(out) + "\n"


def markdown(comparison: Comparison, old_name: str, new_name: str) -> str:
    """The diff in Markdown: the same tables, every value from a report kept as text."""
    icon = "❌" if comparison.something_new_fails else "✅"
    out = [
        f"## {icon} qiibee-conformance diff",
        "",
        f"Old {code(old_name)} ({cell(_run_label(comparison.old))}) → new {code(new_name)} "
        f"({cell(_run_label(comparison.new))})",
        "",
        f"{cell(_count_line(comparison))}. **{cell(_verdict_line(comparison))}**",
        "",
    ]
    if comparison.changes:
        out += ["| change | requirement | finding or reason |", "|---|---|---|"]
        out += [f"| {c.kind} | {code(c.requirement)} | {cell(c.text)} |" for c in comparison.changes]
        out.append("")
    out += ["| figure | old | new | change |", "|---|---:|---:|---:|"]
    for figure in comparison.figures:
        old, new = _value(figure.old, figure.unit), _value(figure.new, figure.unit)
        out.append(f"| {figure.name} | {old} | {new} | {cell(_delta(figure))} |")
    return "\n".join(out) + "\n"
