"""The capacity search: the search itself, a step's figures, the chart, and one short real
search against the mock that finds its knee and writes ``capacity.json`` and the chart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from html import escape
from pathlib import Path

import pytest

from qiibee_conformance.embedded import EmbeddedMock
from qiibee_conformance.loadtest.capacity import (
    CapacityConfig,
    CapacityResult,
    Search,
    StepResult,
    diff_routes,
    judge_step,
    read_steps,
)
from qiibee_conformance.loadtest.capacity_chart import nice_ticks, render_svg
from qiibee_conformance.loadtest.slo import RouteStats, parse_slo


def _search(step: int, maximum: int, holds_up_to: int) -> list[int]:
    search = Search(step, maximum, max(1, step // 4))
    tried: list[int] = []
    while (users := search.next_users()) is not None:
        tried.append(users)
        search.record(users, users <= holds_up_to)
        assert len(tried) < 50
    return tried


def test_the_search_steps_up_then_narrows_between_the_last_good_and_the_first_bad() -> None:
    assert _search(10, 100, holds_up_to=37) == [10, 20, 30, 40, 35, 37, 38]
    assert _search(4, 16, holds_up_to=100) == [4, 8, 12, 16]  # no knee up to the maximum
    assert _search(10, 100, holds_up_to=0) == [10, 5, 2, 1]  # not even one user: capacity 0
    assert _search(10, 25, holds_up_to=21) == [10, 20, 25, 22]  # the maximum is a step too; 2 apart


def test_a_step_is_the_difference_of_two_snapshots_judged_by_the_slo_file() -> None:
    before = {"GET /transactions": RouteStats("GET", "/transactions", 100, 1, {5: 90, 50: 10})}
    after = {
        "GET /transactions": RouteStats("GET", "/transactions", 300, 5, {5: 150, 50: 50, 400: 100}, 2),
        "POST /users": RouteStats("POST", "/users", 10, 0, {8: 10}),
    }
    routes = diff_routes(before, after)
    window = {r.key: r for r in routes}["GET /transactions"]
    assert (window.requests, window.failures, window.response_times) == (200, 4, {5: 60, 50: 40, 400: 100})
    spec = parse_slo("[aggregate]\np95_ms = 300\nerror_rate = 0.05\n")
    step = judge_step(20, 4.0, routes, spec)
    assert (step.requests, step.failures, step.rate_limited) == (210, 4, 2)
    assert step.requests_per_s == 52.5 and (step.p50_ms, step.p95_ms) == (50, 400)
    assert not step.ok and step.breach_text == ["Aggregated p95_ms 400 ms > 300 ms"]
    assert StepResult.from_dict(json.loads(json.dumps(step.to_dict()))) == step


def _step(users: int, rps: float, p95: int, ok: bool, failures: int = 0) -> StepResult:
    breaches = (
        [] if ok else [{"route": "Aggregated", "budget": "p95_ms", "observed": str(p95), "limit": "50"}]
    )
    text = [] if ok else [f"Aggregated p95_ms {p95} ms > 50 ms"]
    return StepResult(users, 10.0, int(rps * 10), failures, 0, p95 // 3, p95, p95 * 2, ok, breaches, text)


CONFIG = CapacityConfig(10, 100, 12.0, 10.0, 2.0, "load/slo.toml", "steps.jsonl")


def test_the_result_names_the_capacity_the_knee_and_the_slo_that_broke_first() -> None:
    steps = [_step(10, 90, 20, True), _step(20, 170, 35, True), _step(30, 180, 80, False)]
    steps += [_step(25, 175, 48, True), _step(27, 176, 60, False)]
    result = CapacityResult(steps, CONFIG)
    found = result.to_dict()
    assert found["capacity"] == {"users": 25, "requests_per_s": 175.0}
    assert found["knee"] == {"last_good_users": 25, "first_bad_users": 27}
    assert found["broke_first_text"] == ["Aggregated p95_ms 60 ms > 50 ms"] and found["knee_found"]
    assert result.headline().startswith("capacity: 25 users, 175.0 requests/s within the SLOs; at 27 users")
    lines = "\n".join(json.dumps(s.to_dict()) for s in steps) + '\n{"torn'
    assert read_steps(lines) == steps
    assert CapacityResult([_step(10, 90, 20, True)], CONFIG).to_dict()["knee"]["first_bad_users"] is None


def test_the_chart_is_an_svg_with_three_panels_and_the_knee_marked() -> None:
    assert nice_ticks(0) == [0.0, 1.0] and nice_ticks(173) == [0, 50, 100, 150, 200]
    steps = [_step(10, 90, 20, True), _step(20, 170, 35, True), _step(30, 180, 80, False)]
    svg = render_svg(CapacityResult(steps, CONFIG), "Capacity of <mock> & co")
    root = ET.fromstring(svg)  # well-formed: a browser opens it, the HTML embeds it
    ns = "{http://www.w3.org/2000/svg}"
    texts = [t.text or "" for t in root.iter(f"{ns}text")]
    assert "Capacity of <mock> & co" in texts
    assert {"Request rate", "Latency (all routes)", "Error rate", "p50", "p95", "p99"} <= set(texts)
    dashed = [line for line in root.iter(f"{ns}line") if line.get("stroke-dasharray")]
    assert len(dashed) == 3  # the knee in each panel, at the last step that held
    assert len(root.findall(f"{ns}polyline")) == 5


# A real search against the mock ----------------------------------------------------------------

# A shared, busy sandbox (the mock's busy-service variant: 100 requests/s per key, then 429s).
# A user thinks up to 0.1 s between tasks: four users stay well under the limit, sixteen do not.
TIGHT = "[aggregate]\nerror_rate = 0.03\n"


@pytest.mark.slow
def test_a_short_search_finds_the_knee_and_writes_the_chart(
    tmp_path: Path, start_mock: Callable[..., EmbeddedMock]
) -> None:
    mock = start_mock(seed_history=200, variants=["busy-service"])
    slo = tmp_path / "tight.toml"
    slo.write_text(TIGHT)
    reports = tmp_path / "r"
    argv = [
        sys.executable, "-m", "qiibee_conformance", "load", "--reports", str(reports),
        "--target", mock.base_url, "--find-capacity", "--scenario", "mixed",
        "--step-users", "4", "--max-users", "24", "--step-time", "4s", "--think-time", "0.1",
        "--slo", str(slo),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "QIIBEE_"))}
    env["QIIBEE_API_KEY"] = mock.api_key  # never on the command line
    result = subprocess.run(argv, capture_output=True, text=True, timeout=240, check=False, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    found = json.loads((reports / "capacity.json").read_text())
    assert found["valid"] and found["knee_found"], found
    knee = found["knee"]
    assert 4 <= knee["last_good_users"] < knee["first_bad_users"] <= 24
    assert found["capacity"]["requests_per_s"] > 0
    assert any(b["budget"] == "error_rate" for b in found["broke_first"])
    assert [s["users"] for s in found["steps"]][:2] == [4, 8]
    svg = (reports / "capacity.svg").read_text()
    ET.fromstring(svg)
    html = (reports / "capacity.html").read_text()
    assert "<svg" in html and "Capacity search" in html and escape(found["headline"]) in html
    summary = json.loads((reports / "load-summary.json").read_text())
    assert summary["gates"]["reconciliation"]["ok"] and summary["capacity"]["knee_found"]
    assert summary["gates"]["slo"] is None  # the SLOs judged each step, not the whole run
    assert summary["reports"]["capacity_html"] == str((reports / "capacity.html").resolve())
    assert summary["reports"]["html"] == str((reports / "locust.html").resolve())
    assert "capacity: " in output and mock.api_key not in output
    for path in reports.rglob("*"):
        if path.is_file():
            assert mock.api_key not in path.read_text(errors="replace"), path
