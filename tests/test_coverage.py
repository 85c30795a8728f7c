"""Coverage in every report: per operation the documented statuses observed and never seen and the
requirements that sent it; per requirement its status; latency figures; the HTML's reading order."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qiibee_conformance.certify import operations
from qiibee_conformance.certify.coverage import CoverageRecorder, summarize
from qiibee_conformance.certify.reports import html_coverage, markdown_report
from qiibee_conformance.certify.stats import RunStats, latency_figures, percentile
from qiibee_conformance.embedded import EmbeddedMock
from qiibee_conformance.evidence import Exchange
from tests.certify_helpers import clean_env, describe, load_report, run_certify

SECRET_KEY = "qk-coverage-8d2f6a0c4e1b7395"


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/users", "/users"),
        ("/users/", "/users"),
        ("/users/abc-1", "/users/{auth_id}"),
        ("/users/abc/balances", "/users/{auth_id}/balances"),
        ("/users/abc/memberships", "/users/{auth_id}/memberships"),
        ("/users/abc/memberships/etihad", "/users/{auth_id}/memberships/{implementation_name}"),
        ("/transactions", "/transactions"),
        ("/users/a/b/c/d", None),
        ("/nope", None),
    ],
)
def test_paths_fall_under_their_documented_template(path: str, template: str | None) -> None:
    assert operations.template_of(path) == template


def test_the_targets_base_path_is_not_part_of_the_operation() -> None:
    base = "https://h.example/api/v2"
    assert operations.path_of(f"{base}/users/x?limit=5", base) == "/users/x"
    assert operations.path_of("http://127.0.0.1:9/users", "http://127.0.0.1:9") == "/users"


def test_a_status_range_is_seen_through_any_status_of_its_family() -> None:
    create = operations.find("POST", "/users")
    assert create is not None and "4XX" in create.documented
    assert create.seen([201, 400]) == {"201", "400", "4XX"}
    assert create.seen([422]) == {"4XX"} and create.documents(422) == "4XX"
    assert create.documents(500) is None


def _exchange(method: str, url: str, status: int | None) -> Exchange:
    return Exchange(method, url, {}, None, status, {}, "", 1.0)


def test_observations_fold_into_operations_and_requirements() -> None:
    base = "https://h.example/api"
    recorder = CoverageRecorder()
    recorder.begin(base)
    recorder.record_exchange(_exchange("POST", f"{base}/users", 201), "USR-01")
    recorder.record_exchange(_exchange("POST", f"{base}/users", 500), "ERR-02")
    recorder.record_exchange(_exchange("GET", f"{base}/users/u1", 404), "USR-06")
    recorder.record_exchange(_exchange("GET", f"{base}/users/u1", None), "USR-06")  # no answer
    recorder.record_exchange(_exchange("PATCH", f"{base}/token-exchange-whitelist", 404), "ERR-03")
    recorder.record_exchange(_exchange("GET", f"{base}/token-exchange-whitelist", 200), None)
    recorder.record("DELETE", "/users/{auth_id}/memberships/{implementation_name}", 204, "SCH-03")
    statuses = [("USR-01", "verified"), ("ERR-02", "failed"), ("USR-06", "verified"), ("SCH-03", "verified"),
                ("ERR-03", "verified"), ("WL-01", "not-run")]
    coverage = summarize(recorder.observations(), statuses)
    ops = {op["operation"]: op for op in coverage["operations"]}
    create = ops["POST /users"]
    assert create["observed"] == ["201"] and create["undocumented"] == ["500"]
    assert "400" in create["never_seen"] and create["requirements"] == ["ERR-02", "USR-01"]
    assert ops["GET /users/{auth_id}"]["requests"] == 1
    assert ops["GET /token-exchange-whitelist"]["requirements"] == []  # discovery: no requirement
    assert ops["DELETE /users/{auth_id}/memberships/{implementation_name}"]["observed"] == ["204"]
    assert coverage["unmatched"] == [
        {"request": "PATCH /token-exchange-whitelist", "statuses": {"404": 1}, "requirements": ["ERR-03"]}
    ]
    by_id = {r["id"]: r for r in coverage["requirements"]}
    assert by_id["ERR-02"] == {"id": "ERR-02", "status": "failed", "operations": ["POST /users"]}
    assert by_id["WL-01"]["operations"] == [] and by_id["WL-01"]["status"] == "not-run"
    assert coverage["summary"]["operations"] == len(operations.documented_operations())
    summary = coverage["summary"]
    assert summary["operations_exercised"] == 4 and summary["undocumented_statuses"] == 1


def test_latency_figures_are_nearest_rank_percentiles() -> None:
    assert percentile([], 0.95) == 0.0
    times = [float(n) for n in range(1, 101)]
    assert latency_figures(times) == {"requests": 100, "p50_ms": 50.0, "p95_ms": 95.0, "max_ms": 100.0}
    stats = RunStats()
    stats.add_request_time("checks", 3.0)
    stats.add_request_time("schemathesis", 1.0)
    figures = stats.latency()
    assert figures["all"]["requests"] == 2 and figures["checks"]["p95_ms"] == 3.0
    stats.reset()
    assert stats.latency()["all"]["requests"] == 0


def _document(coverage: dict[str, Any]) -> dict[str, Any]:
    return {
        "verdict": "NONCONFORMING", "target": "http://h", "run_id": "r", "duration_s": 1.0, "counts": {},
        "summary": {"requirements": {"failed": 1}},
        "requirements": [{"id": "ERR-02", "group": "errors", "title": "<b>x</b>", "status": "failed",
                          "findings": [], "advisories": []}],
        "coverage": coverage,
    }


def test_the_html_matrix_and_the_markdown_table_show_the_coverage() -> None:
    recorder = CoverageRecorder()
    recorder.begin("http://h")
    recorder.record_exchange(_exchange("POST", "http://h/users", 500), "ERR-02")
    document = _document(summarize(recorder.observations(), [("ERR-02", "failed")]))
    html = html_coverage.render(document)
    assert '<span class="chip undocumented"' in html and ">500<" in html
    assert '<td class="cell failed" title="ERR-02 failed">1</td>' in html
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    markdown = markdown_report.render(document)
    assert "### Coverage" in markdown
    assert "| `POST /users` | 1 | — | 201, 400, 401, 4XX, 429, 503 | 500 | ERR-02 |" in markdown
    assert html_coverage.render({"coverage": {}}) == ""


@pytest.mark.slow
def test_every_report_carries_the_coverage_and_the_html_reads_in_order(
    tmp_path: Path, start_mock: Callable[..., EmbeddedMock]
) -> None:
    mock = start_mock(faults=["membership-delete-200"], api_key=SECRET_KEY)
    reports = tmp_path / "reports"
    result = run_certify(
        "--target", mock.base_url, "--only", "auth", "memberships", "--reports", str(reports),
        "--markdown", str(tmp_path / "summary.md"), cwd=tmp_path, env=clean_env(QIIBEE_API_KEY=SECRET_KEY),
    )
    assert result.returncode == 1, describe(result)
    document = load_report(reports)
    ops = {op["operation"]: op for op in document["coverage"]["operations"]}
    assert all("AUTH-01" in op["requirements"] for op in ops.values())  # the key is asked on every operation
    delete = ops["DELETE /users/{auth_id}/memberships/{implementation_name}"]
    assert "200" in delete["undocumented"] and "MEM-09" in delete["requirements"]
    statuses = {r["id"]: r["status"] for r in document["coverage"]["requirements"]}
    assert (statuses["MEM-09"], statuses["AUTH-01"], statuses["EXC-03"]) == ("failed", "verified", "not-run")
    assert document["latency_ms"]["all"]["requests"] > 0 and document["latency_ms"]["all"]["p95_ms"] > 0
    assert "coverage: 13/13 operations exercised" in result.stdout and "latency: p50" in result.stdout
    html = (reports / "certification.html").read_text(encoding="utf-8")
    order = ["<h1>NONCONFORMING</h1>", "<h2>Findings</h2>", 'href="#finding-MEM-09"', "<h2>Coverage</h2>",
             "<h2>All requirements</h2>", 'id="finding-MEM-09"', "<h2>Run</h2>"]
    positions = [html.index(marker) for marker in order]
    assert positions == sorted(positions)
    junit = ET.parse(reports / "junit.xml").getroot()
    case = next(c for c in junit.iter("testcase") if c.get("name", "").startswith("MEM-09"))
    names = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert "DELETE /users/{auth_id}/memberships/{implementation_name}" in (names.get("operations") or "")
    assert "### Coverage" in (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert SECRET_KEY not in "".join(p.read_text(encoding="utf-8") for p in reports.iterdir() if p.is_file())
