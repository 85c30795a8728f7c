"""Short headless load runs against the reference mock, through the real CLI.

Each run is a real Locust subprocess against a real mock on loopback, a few
seconds long: request counts, SLO gates, reconciliation and reports are
checked from what the CLI wrote and returned.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qiibee_conformance.embedded import EmbeddedMock

pytestmark = pytest.mark.slow

RUN_TIMEOUT = 120


def run_load(reports: Path, *args: str, mock: EmbeddedMock | None = None) -> tuple[int, str, dict[str, Any]]:
    argv = [sys.executable, "-m", "qiibee_conformance", "load", "--reports", str(reports), *args]
    if mock is not None:
        argv += ["--target", mock.base_url, "--api-key", mock.api_key]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)
    output = result.stdout + result.stderr
    summary_path = reports / "load-summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    # whatever the target does, the load run's own code must not raise
    assert summary.get("task_exceptions", 0) == 0, (reports / "locust_exceptions.csv").read_text()
    if mock is not None:
        assert mock.api_key not in output
        for path in reports.rglob("*"):
            if path.is_file() and path.suffix in {".json", ".csv", ".html", ".log"}:
                assert mock.api_key not in path.read_text(errors="replace"), path
    return result.returncode, output, summary


def routes(summary: dict[str, Any]) -> dict[str, int]:
    return {r["route"]: r["requests"] for r in summary["requests"]["routes"]}


def test_history_scenario_on_the_embedded_mock(tmp_path: Path) -> None:
    code, output, summary = run_load(
        tmp_path, "--scenario", "history", "--run-time", "6s", "--users", "4", "--seed-history", "800"
    )
    assert code == 0, output
    assert summary["verdict"] == "pass"
    # named by route, never by URL (no query strings in the statistics)
    assert set(routes(summary)) == {"GET /transactions"}
    assert routes(summary)["GET /transactions"] > 100
    assert summary["gates"]["slo"]["ok"] and summary["gates"]["reconciliation"]["ok"]
    for name in ("locust.html", "locust_stats.csv", "locust_failures.csv", "locust_stats.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert "<html" in (tmp_path / "locust.html").read_text().lower()


def test_exchange_burst_reconciles_on_a_correct_mock(
    tmp_path: Path, start_mock: Callable[..., EmbeddedMock]
) -> None:
    mock = start_mock(seed_history=100)
    code, output, summary = run_load(
        tmp_path, "--scenario", "exchange-burst", "--run-time", "8s", "--users", "12", mock=mock
    )
    assert code == 0, output
    assert routes(summary)["POST /transactions"] > 100
    recon = summary["gates"]["reconciliation"]
    assert recon["ok"] and recon["users"] >= 5
    # the burst sends deliberately invalid and contested exchanges: some are refused, as documented
    assert recon["ledger"]["rejected"] > 0 and recon["ledger"]["accepted"] > 50


EXPECTED_ROUTES = {
    "mixed": (
        "GET /transactions",
        "POST /users",
        "PATCH /users/:auth_id",
        "POST /users/:auth_id/memberships",
    ),
    "exchange-burst": ("POST /transactions", "POST /users", "GET /users/:auth_id/balances"),
    "history": ("GET /transactions",),
}

# A shared, rate-limited sandbox answers a share of a burst with 429s: that is its capacity,
# which the error budget counts (D18). The capacity tester's budget says how much is fine.
CAPACITY_SLO = "[defaults]\np95_ms = 2500\nerror_rate = 0.5\n[aggregate]\nerror_rate = 0.5\n"
RATE_LIMITING = ("busy-service", "all-alternatives")


@pytest.mark.parametrize(
    ("variant", "scenario"),
    [
        ("all-alternatives", "exchange-burst"),
        ("all-alternatives", "mixed"),
        ("busy-service", "exchange-burst"),
        ("busy-service", "history"),
        ("literal-reading", "exchange-burst"),
        ("literal-reading", "mixed"),
    ],
)
def test_every_tolerated_variant_passes(
    variant: str, scenario: str, tmp_path: Path, start_mock: Callable[..., EmbeddedMock]
) -> None:
    """A correct target that picks the other tolerated choices (a sign-up bonus, {"user": ...}
    bodies, other status names, rate limiting, ...) passes the load run: reconciled, no finding,
    no advisory, and no failure but the rate-limited requests, which are counted and shown."""
    slo = tmp_path / "capacity.toml"
    slo.write_text(CAPACITY_SLO)
    mock = start_mock(seed_history=300, variants=[variant])
    users = "4" if scenario == "history" else "12"
    code, output, summary = run_load(
        tmp_path / "r", "--scenario", scenario, "--run-time", "8s", "--users", users, "--slo", str(slo),
        mock=mock,
    )  # fmt: skip
    assert code == 0, output
    seen = routes(summary)
    for route in EXPECTED_ROUTES[scenario]:
        assert seen.get(route, 0) > 0, route
    recon = summary["gates"]["reconciliation"]
    assert recon["ok"] and not recon["discrepancies"], recon
    assert summary["advisories"] == [] and summary["gates"]["contract"]["findings"] == []
    requests = summary["requests"]
    assert requests["failures"] == requests["rate_limited"], output  # no failure but rate limiting
    assert requests["rate_limited"] == sum(r["rate_limited"] for r in requests["routes"])
    if variant in RATE_LIMITING:
        assert requests["rate_limited"] > 0 and "rate limited: " in output
    else:
        assert requests["failures"] == 0
    if scenario == "exchange-burst":
        # new users answered in any envelope still make the drained balances the burst races for
        assert recon["users"] > 6 and recon["ledger"]["rejected"] > 0  # 4 rich, 2 unfunded, drained ones


def test_a_tight_slo_fails_the_run_naming_route_and_budget(
    tmp_path: Path, start_mock: Callable[..., EmbeddedMock]
) -> None:
    slo = tmp_path / "tight.toml"
    slo.write_text('[routes."GET /transactions"]\np99_ms = 0\n')
    mock = start_mock(seed_history=300)
    code, output, summary = run_load(
        tmp_path / "r",
        "--scenario",
        "history",
        "--run-time",
        "4s",
        "--users",
        "3",
        "--slo",
        str(slo),
        mock=mock,
    )
    assert code == 1, output
    assert summary["failed_gates"] == ["slo"]
    assert any(b.startswith("GET /transactions p99_ms") for b in summary["gates"]["slo"]["breaches"])
    assert "SLO BREACHED" in output


@pytest.mark.parametrize("fault", ["race-lost-credit", "race-overdraw"])
def test_reconciliation_catches_race_faults(
    fault: str, tmp_path: Path, start_mock: Callable[..., EmbeddedMock]
) -> None:
    mock = start_mock(faults=[fault])
    code, output, summary = run_load(
        tmp_path, "--scenario", "exchange-burst", "--run-time", "8s", "--users", "16", mock=mock
    )
    assert code == 1, output
    assert "reconciliation" in summary["failed_gates"]
    assert "RECONCILIATION FAILED" in output
    assert summary["gates"]["reconciliation"]["discrepancies"]


def test_history_checks_catch_a_pagination_fault(
    tmp_path: Path, start_mock: Callable[..., EmbeddedMock]
) -> None:
    mock = start_mock(seed_history=400, faults=["history-offset-skip"])
    code, output, summary = run_load(
        tmp_path, "--scenario", "history", "--run-time", "5s", "--users", "3", mock=mock
    )
    assert code == 1, output
    assert "contract" in summary["failed_gates"]
    assert "HIS-04" in {f["rule"] for f in summary["gates"]["contract"]["findings"]}


def test_an_accepted_invalid_exchange_is_a_contract_finding(
    tmp_path: Path, start_mock: Callable[..., EmbeddedMock]
) -> None:
    mock = start_mock(faults=["exchange-two-way"])
    code, output, summary = run_load(
        tmp_path, "--scenario", "exchange-burst", "--run-time", "6s", "--users", "10", mock=mock
    )
    assert code == 1, output
    findings = summary["gates"]["contract"]["findings"]
    assert "EXC-02" in {f["rule"] for f in findings}
    evidence = next(f["evidence"] for f in findings if f["rule"] == "EXC-02")
    assert evidence["request"]["body"]["transaction"]["type"] == "exchange"
    assert evidence["response"]["status"] == 202


def test_multi_process_run_gathers_every_workers_ledger(
    tmp_path: Path, start_mock: Callable[..., EmbeddedMock]
) -> None:
    mock = start_mock(seed_history=100)
    code, output, summary = run_load(
        tmp_path,
        "--scenario", "exchange-burst", "--run-time", "8s", "--users", "12", "--processes", "2",
        mock=mock,
    )  # fmt: skip
    assert code == 0, output
    # each forked worker sent its ledger to the Locust master through Locust's messages; the
    # master wrote one file per worker, and every batch a worker sent arrived
    ledger_dir = Path(summary["reports"]["ledger"])
    worker_files = list(ledger_dir.glob("worker-*.jsonl"))
    assert len(worker_files) == 2, worker_files
    assert all(f.stat().st_size > 0 for f in worker_files)
    assert not list(ledger_dir.glob("locust-*.jsonl"))  # no worker wrote a file of its own
    workers = summary["cluster"]["workers"]
    assert [w["state"] for w in workers] == ["done", "done"] and not summary["degraded"]
    assert all(w["records"] == w["sent_records"] > 0 for w in workers)
    assert summary["gates"]["reconciliation"]["ledger"]["accepted"] > 50
    assert routes(summary)["POST /transactions"] > 100


def test_ctrl_c_stops_cleanly_and_still_writes_reports(
    tmp_path: Path, start_mock: Callable[..., EmbeddedMock]
) -> None:
    mock = start_mock(seed_history=300)
    argv = [
        sys.executable, "-m", "qiibee_conformance", "load", "--reports", str(tmp_path),
        "--target", mock.base_url, "--api-key", mock.api_key,
        "--scenario", "mixed", "--run-time", "2m", "--users", "5",
    ]  # fmt: skip
    # the context closes the pipe whatever happens; the finally ends a run that outlived it
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        try:
            deadline = time.monotonic() + 60
            stats = tmp_path / "locust_stats.csv"
            while not (stats.exists() and stats.stat().st_size > 300) and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(2)
            os.kill(proc.pid, signal.SIGINT)
            output, _ = proc.communicate(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 130, output
    summary = json.loads((tmp_path / "load-summary.json").read_text())
    assert summary["interrupted"] is True and summary["verdict"] == "interrupted"
    assert summary["requests"]["total"] > 0
    assert (tmp_path / "locust.html").stat().st_size > 0
    assert summary["gates"]["reconciliation"]["ok"]
