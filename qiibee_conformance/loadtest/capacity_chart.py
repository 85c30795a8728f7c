"""The capacity search's chart as a standalone SVG (no plotting library needed).

Three panels share the x axis (users): request rate; p50, p95 and p99 latency; error rate.
Each step is a point (a red ring where it broke an SLO); the band between the last step
that held and the first that broke is the knee, its lower edge a dashed line.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from qiibee_conformance.loadtest.capacity import CapacityResult, StepResult

WIDTH = 760
LEFT, RIGHT = 70, 24
PANEL_H, GAP, TOP = 150, 46, 48
PLOT_W = WIDTH - LEFT - RIGHT
KNEE = "#d62728"
FONT = 'font-family="sans-serif" font-size="11"'
TITLE_FONT = 'font-family="sans-serif" font-size="14" font-weight="bold"'

Point = tuple[float, float]


@dataclass(frozen=True)
class Series:
    label: str
    color: str
    points: list[Point]


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    series: list[Series]


def nice_ticks(maximum: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``maximum`` (steps of 1, 2 or 5 times a power of 10)."""
    if maximum <= 0:
        return [0.0, 1.0]
    raw = maximum / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return [i * step for i in range(math.ceil(maximum / step - 1e-9) + 1)]


def _label(value: float) -> str:
    return f"{value:g}" if value < 10_000 else f"{value:,.0f}"


def _axes(
    top: float, panel: Panel, y_ticks: list[float], x_ticks: list[float], x: Callable[[float], float]
) -> list[str]:
    bottom = top + PANEL_H
    y_max = y_ticks[-1]
    out = [f'<text x="{LEFT}" y="{top - 10}" {FONT} font-weight="bold">{escape(panel.title)}</text>']
    for tick in y_ticks:
        y = bottom - PANEL_H * tick / y_max
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + PLOT_W}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" {FONT} text-anchor="end">{_label(tick)}</text>')
    for tick in x_ticks:
        out.append(
            f'<text x="{x(tick):.1f}" y="{bottom + 14}" {FONT} text-anchor="middle">{_label(tick)}</text>'
        )
    out.append(f'<line x1="{LEFT}" y1="{bottom}" x2="{LEFT + PLOT_W}" y2="{bottom}" stroke="#333"/>')
    out.append(f'<line x1="{LEFT}" y1="{top}" x2="{LEFT}" y2="{bottom}" stroke="#333"/>')
    out.append(
        f'<text x="14" y="{top + PANEL_H / 2:.1f}" {FONT} text-anchor="middle" '
        f'transform="rotate(-90 14 {top + PANEL_H / 2:.1f})">{escape(panel.unit)}</text>'
    )
    return out


def _knee(top: float, result: CapacityResult, x: Callable[[float], float]) -> list[str]:
    bad = result.first_bad
    if bad is None:
        return []
    good = result.capacity_users
    band = f'<rect x="{x(good):.1f}" y="{top}" width="{max(1.0, x(bad.users) - x(good)):.1f}" '
    band += f'height="{PANEL_H}" fill="{KNEE}" fill-opacity="0.08"/>'
    line = f'<line x1="{x(good):.1f}" y1="{top}" x2="{x(good):.1f}" y2="{top + PANEL_H}" '
    line += f'stroke="{KNEE}" stroke-dasharray="5,4"/>'
    return [band, line]


def _series(
    top: float, y_max: float, series: Series, x: Callable[[float], float], broke: set[float]
) -> list[str]:
    def y(value: float) -> float:
        return top + PANEL_H - PANEL_H * value / y_max

    coords = " ".join(f"{x(px):.1f},{y(py):.1f}" for px, py in series.points)
    out = [f'<polyline points="{coords}" fill="none" stroke="{series.color}" stroke-width="1.6"/>']
    for px, py in series.points:
        ring = f' stroke="{KNEE}" stroke-width="2"' if px in broke else ""
        out.append(f'<circle cx="{x(px):.1f}" cy="{y(py):.1f}" r="3" fill="{series.color}"{ring}/>')
    return out


def _legend(top: float, panel: Panel) -> list[str]:
    out: list[str] = []
    right = LEFT + PLOT_W
    for index, series in enumerate(reversed(panel.series)):
        px = right - 70 * (index + 1)
        out.append(f'<rect x="{px}" y="{top - 19}" width="10" height="10" fill="{series.color}"/>')
        out.append(f'<text x="{px + 14}" y="{top - 10}" {FONT}>{escape(series.label)}</text>')
    return out


def _panel(
    top: float, panel: Panel, result: CapacityResult, x_ticks: list[float], x: Callable[[float], float]
) -> list[str]:
    values = [p[1] for s in panel.series for p in s.points]
    y_ticks = nice_ticks(max(values, default=0.0))
    broke = {float(s.users) for s in result.steps if not s.ok}
    out = _axes(top, panel, y_ticks, x_ticks, x) + _knee(top, result, x)
    for series in panel.series:
        out += _series(top, y_ticks[-1], series, x, broke)
    return out + _legend(top, panel)


def _points(steps: list[StepResult], value: Callable[[StepResult], float | None]) -> list[Point]:
    found = [(float(s.users), value(s)) for s in sorted(steps, key=lambda s: s.users)]
    return [(px, float(py)) for px, py in found if py is not None]


def panels(result: CapacityResult) -> list[Panel]:
    steps = result.steps
    return [
        Panel(
            "Request rate",
            "requests/s",
            [Series("req/s", "#1f77b4", _points(steps, lambda s: s.requests_per_s))],
        ),
        Panel(
            "Latency (all routes)",
            "ms",
            [
                Series("p50", "#2ca02c", _points(steps, lambda s: s.p50_ms)),
                Series("p95", "#ff7f0e", _points(steps, lambda s: s.p95_ms)),
                Series("p99", "#8c564b", _points(steps, lambda s: s.p99_ms)),
            ],
        ),
        Panel(
            "Error rate",
            "%",
            [Series("errors", "#9467bd", _points(steps, lambda s: 100 * float(s.error_rate)))],
        ),
    ]


def subtitle(result: CapacityResult, width: int = 115) -> str:
    """One line under the title: the capacity, and where and how the first SLO broke."""
    held = f"{result.capacity_users} users, {result.capacity_rps:.0f} req/s within the SLOs"
    bad = result.first_bad
    if bad is None:
        return held + "; no SLO broke"
    text = f"{held}; broke at {bad.users} users: {bad.breach_text[0] if bad.breach_text else ''}"
    return text if len(text) <= width else text[: width - 1] + "…"


def render_svg(result: CapacityResult, title: str) -> str:
    """The whole chart: a title line, the three panels, the x axis label, the knee's note."""
    x_max = max((s.users for s in result.steps), default=1)
    x_ticks = nice_ticks(float(x_max), count=8)

    def x(users: float) -> float:
        return LEFT + PLOT_W * users / x_ticks[-1]

    height = TOP + 3 * (PANEL_H + GAP) + 10
    body: list[str] = [f'<text x="{LEFT}" y="20" {TITLE_FONT}>{escape(title)}</text>']
    body.append(f'<text x="{LEFT}" y="36" {FONT} fill="{KNEE}">{escape(subtitle(result))}</text>')
    for index, panel in enumerate(panels(result)):
        body += _panel(TOP + 14 + index * (PANEL_H + GAP), panel, result, x_ticks, x)
    body.append(
        f'<text x="{LEFT + PLOT_W / 2}" y="{height - 6}" {FONT} text-anchor="middle">concurrent users</text>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}">\n<rect width="100%" height="100%" fill="white"/>\n'
        + "\n".join(body)
        + "\n</svg>\n"
    )
