"""A real Locust master and two workers, each a separate ``qiibee-conformance load`` process
on loopback, with no directory shared between them: the plan goes out and the ledgers come
back through Locust's messages, and the master alone judges the run.

Also the pieces without Locust: the worker's batching sink and the master's receiver.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
import pytest

from qiibee_conformance.embedded import EmbeddedMock, free_port
from qiibee_conformance.loadtest.cluster_status import (
    DONE,
    INCOMPLETE,
    LOST,
    MSG_DONE,
    MSG_LEDGER,
    ClusterStatus,
    WorkerStatus,
    read_status,
    write_status,
)
from qiibee_conformance.loadtest.ledger import LedgerWriter, read_ledger
from qiibee_conformance.loadtest.ledger_link import BATCH_MAX, LedgerReceiver, MessageSink

RUN_TIMEOUT = 120


# The ledger link without Locust -------------------------------------------------------------


def test_an_attempt_goes_out_before_its_request_and_results_ride_along() -> None:
    sent: list[tuple[str, dict[str, Any]]] = []
    writer = LedgerWriter(sink=MessageSink(lambda kind, data: sent.append((kind, data))))
    first = writer.attempt("exchange", "u1", 101, 10, to_token=202)
    assert [r["t"] for r in sent[-1][1]["records"]] == ["attempt"]  # write-ahead: sent at once
    writer.result(first, 202, "7")
    writer.baseline("u2", 101, Fraction(5), ["r1"])
    assert len(sent) == 1  # results and baselines wait for the next attempt
    writer.attempt("credit_points", "u2", 101, 5)
    assert [r["t"] for r in sent[-1][1]["records"]] == ["result", "baseline", "attempt"]
    assert [data["seq"] for kind, data in sent] == [1, 2]


def test_a_clean_stop_hands_over_everything_and_the_totals(tmp_path: Path) -> None:
    master = LedgerReceiver(tmp_path, index_of=lambda client: 3)
    sink = MessageSink(
        lambda kind, data: (master.on_batch if kind == MSG_LEDGER else master.on_done)(
            msg=SimpleNamespace(node_id="w1", data=data), environment=None
        )
    )
    writer = LedgerWriter(sink=sink)
    for index in range(BATCH_MAX + 5):
        writer.finding("HIS-01", f"finding {index}")  # no attempt: batched by size
    last = writer.attempt("exchange", "u1", 101, 10, to_token=202)
    writer.result(last, 202, "9")
    sink.finish()
    master.close()
    worker = master.workers["w1"]
    assert worker.state == DONE and worker.index == 3
    assert worker.records == worker.sent_records == BATCH_MAX + 7
    contents = read_ledger(tmp_path)
    assert contents.files == 1 and len(contents.findings) == BATCH_MAX + 5
    assert [a.status for a in contents.attempts] == [202]


def test_batches_that_never_arrived_make_a_worker_incomplete(tmp_path: Path) -> None:
    master = LedgerReceiver(tmp_path, index_of=lambda client: 0)
    kept: list[int] = []

    def lossy(kind: str, data: dict[str, Any]) -> None:
        msg = SimpleNamespace(node_id="w9", data=data)
        if kind == MSG_DONE:
            master.on_done(msg=msg)
        elif data["seq"] != 2:  # the second batch is lost on the way
            kept.append(data["seq"])
            master.on_batch(msg=msg)

    writer = LedgerWriter(sink=MessageSink(lossy))
    for _ in range(3):
        writer.attempt("credit_points", "u1", 101, 1)
    writer.sink.close()
    sink = writer.sink
    assert isinstance(sink, MessageSink)
    sink.finish()
    master.close()
    assert kept == [1, 3] and master.workers["w9"].state == INCOMPLETE
    status = ClusterStatus(1, list(master.workers.values()))
    assert status.degraded and "1 of its 3 ledger batches never arrived" in status.notes()[0]


def test_the_masters_account_round_trips_and_names_a_lost_worker(tmp_path: Path) -> None:
    status = ClusterStatus(2, [WorkerStatus("a", 0, DONE, 4, 9, 4, 9), WorkerStatus("b", 1, LOST, 2, 5)])
    write_status(tmp_path, status)
    again = read_status(tmp_path)
    assert again is not None and again.degraded and again.to_dict() == status.to_dict()
    assert "worker 1 (b) was lost mid-run" in again.notes()[0]
    assert read_status(tmp_path / "nowhere") is None


# Real runs: a master and two workers on loopback --------------------------------------------


@dataclass
class Node:
    name: str
    proc: subprocess.Popen[str]
    reports: Path
    output: str = ""


@dataclass
class Cluster:
    """A master and its workers, each in a session of its own, reaped at the end of the test."""

    mock: EmbeddedMock
    root: Path
    port: int = field(default_factory=free_port)
    nodes: list[Node] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "QIIBEE_"))}
        env["QIIBEE_API_KEY"] = self.mock.api_key  # the key travels in the environment only
        return env

    def start(self, name: str, *args: str) -> Node:
        reports = self.root / name  # each node its own directory: nothing shared
        argv = [sys.executable, "-m", "qiibee_conformance", "load", "--reports", str(reports), *args]
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env(),
            cwd=self.root, start_new_session=True,
        )  # fmt: skip
        node = Node(name, proc, reports)
        self.nodes.append(node)
        return node

    def master(self, *args: str) -> Node:
        return self.start(
            "master", "--role", "master", "--expect-workers", "2", "--expect-workers-max-wait", "60",
            "--master-bind-host", "127.0.0.1", "--master-bind-port", str(self.port),
            "--target", self.mock.base_url, *args,
        )  # fmt: skip

    def worker(self, name: str) -> Node:
        return self.start(
            name, "--role", "worker", "--master-host", "127.0.0.1", "--master-port", str(self.port)
        )

    def wait(self, node: Node) -> int:
        node.output, _ = node.proc.communicate(timeout=RUN_TIMEOUT)
        return node.proc.returncode

    def summary(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.root / "master" / "load-summary.json").read_text())
        return data

    def reap(self) -> None:
        for node in self.nodes:
            if node.proc.poll() is None:
                for child in psutil.Process(node.proc.pid).children(recursive=True):
                    child.kill()
                os.killpg(node.proc.pid, signal.SIGKILL)
                node.proc.communicate(timeout=30)

    def assert_key_nowhere(self) -> None:
        key = self.mock.api_key
        for node in self.nodes:
            assert key not in node.output, node.name
            assert key not in " ".join(node.proc.args), node.name  # type: ignore[arg-type]
        for path in self.root.rglob("*"):
            if path.is_file():
                assert key not in path.read_text(errors="replace"), path


@pytest.fixture
def cluster(tmp_path: Path, start_mock: Callable[..., EmbeddedMock]) -> Iterator[Callable[..., Cluster]]:
    made: list[Cluster] = []

    def make(**mock_options: Any) -> Cluster:
        made.append(Cluster(start_mock(**mock_options), tmp_path))
        return made[-1]

    yield make
    for each in made:
        each.reap()


BURST = ("--scenario", "exchange-burst", "--run-time", "6s", "--users", "12")


@pytest.mark.slow
def test_master_and_two_workers_reconcile_every_ledger_entry(cluster: Callable[..., Cluster]) -> None:
    run = cluster(seed_history=100)
    master = run.master(*BURST)
    workers = [run.worker("w1"), run.worker("w2")]
    code = run.wait(master)
    assert code == 0, master.output
    assert [run.wait(w) for w in workers] == [0, 0], [w.output for w in workers]
    summary = run.summary()
    assert summary["verdict"] == "pass" and summary["role"] == "master" and not summary["degraded"]
    assert [w["state"] for w in summary["cluster"]["workers"]] == [DONE, DONE]
    # every worker sent money moves, and every record it sent arrived
    assert all(w["records"] == w["sent_records"] > 50 for w in summary["cluster"]["workers"])
    recon = summary["gates"]["reconciliation"]
    assert recon["ok"] and recon["ledger"]["accepted"] > 100
    assert recon["ledger"]["unanswered"] == 0  # a clean stop: every answer reached the master
    ledger = Path(summary["reports"]["ledger"])
    assert len(list(ledger.glob("worker-*.jsonl"))) == 2
    moves = sum(r["requests"] for r in summary["requests"]["routes"] if r["route"] == "POST /transactions")
    assert recon["ledger"]["attempts"] >= moves  # each move the workers made is in the ledger
    for worker in workers:  # the workers keep no ledger of their own
        assert not list(worker.reports.rglob("*.jsonl"))
    run.assert_key_nowhere()


@pytest.mark.slow
def test_a_fault_that_loses_credits_under_concurrency_fails_reconciliation(
    cluster: Callable[..., Cluster],
) -> None:
    run = cluster(faults=["race-lost-credit"])
    master = run.master("--scenario", "exchange-burst", "--run-time", "6s", "--users", "16")
    workers = [run.worker("w1"), run.worker("w2")]
    code = run.wait(master)
    for worker in workers:
        run.wait(worker)
    assert code == 1, master.output
    summary = run.summary()
    assert "reconciliation" in summary["failed_gates"] and "RECONCILIATION FAILED" in master.output
    assert summary["gates"]["reconciliation"]["discrepancies"]


@pytest.mark.slow
def test_a_worker_killed_mid_run_degrades_the_verdict(cluster: Callable[..., Cluster]) -> None:
    run = cluster(seed_history=100)
    master = run.master("--scenario", "exchange-burst", "--run-time", "8s", "--users", "12")
    doomed, survivor = run.worker("w1"), run.worker("w2")
    deadline = time.monotonic() + 60
    while len(list(run.root.glob("master/**/worker-*.jsonl"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)  # until both are racing
    time.sleep(1.5)
    for child in psutil.Process(doomed.proc.pid).children(recursive=True):  # the Locust worker
        child.kill()
    code = run.wait(master)
    run.wait(doomed)
    run.wait(survivor)
    assert code == 2, master.output  # not a crash: judged, reported, and marked degraded
    summary = run.summary()
    assert summary["verdict"] == "degraded" and summary["degraded"] is True
    states = sorted(w["state"] for w in summary["cluster"]["workers"])
    assert states == [DONE, LOST], summary["cluster"]
    assert any("was lost mid-run" in note for note in summary["notes"])
    recon = summary["gates"]["reconciliation"]
    assert recon["ok"] and recon["ledger"]["accepted"] > 20  # its in-flight moves: no answer, no error
    assert "DEGRADED" in master.output and "Traceback" not in master.output
    assert doomed.proc.returncode == 2 and survivor.proc.returncode == 0


@pytest.mark.slow
def test_ctrl_c_on_a_worker_then_on_the_master_stops_both_within_seconds(
    cluster: Callable[..., Cluster],
) -> None:
    """A worker interrupted hands its ledger over before it quits (not lost); the master
    interrupted drains the other, judges what was measured, writes the reports: 130 each."""
    run = cluster(seed_history=100)
    master = run.master("--scenario", "exchange-burst", "--run-time", "2m", "--users", "8")
    first, second = run.worker("w1"), run.worker("w2")
    stats = run.root / "master" / "locust_stats.csv"
    deadline = time.monotonic() + 60
    while not (stats.exists() and stats.stat().st_size > 300) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)
    started = time.monotonic()
    first.proc.send_signal(signal.SIGINT)
    assert run.wait(first) == 130 and time.monotonic() - started < 15, first.output
    time.sleep(1)
    started = time.monotonic()
    master.proc.send_signal(signal.SIGINT)
    assert run.wait(master) == 130 and time.monotonic() - started < 40, master.output
    assert run.wait(second) == 0, second.output
    summary = run.summary()
    assert summary["verdict"] == "interrupted" and summary["interrupted"] is True
    assert [w["state"] for w in summary["cluster"]["workers"]] == [DONE, DONE]
    assert not summary["degraded"] and summary["gates"]["reconciliation"]["ok"]
    assert (run.root / "master" / "locust.html").stat().st_size > 0


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--role", "master"], "--expect-workers"),
        (["--role", "master", "--expect-workers", "2", "--processes", "2"], "--processes is for one machine"),
        (["--expect-workers", "2"], "goes with --role master"),
        (["--role", "worker"], "--master-host"),
        (["--role", "worker", "--master-host", "h", "--api-key", "k-secret-on-argv"], "only"),
        (["--role", "worker", "--master-host", "h", "--find-capacity"], "its master asks"),
        (["--find-capacity", "--step-users", "0"], "--step-users"),
        (["--find-capacity", "--step-users", "20", "--max-users", "10"], "--max-users"),
        (["--find-capacity", "--step-time", "2s"], "--step-time"),
    ],
)
def test_unusable_role_and_capacity_options_exit_2_with_one_line(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from qiibee_conformance.cli import main

    monkeypatch.delenv("QIIBEE_API_KEY", raising=False)
    assert main(["load", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error:" in err[0] and said in err[0], err
    assert "k-secret-on-argv" not in err[0]


def test_a_worker_needs_the_key_in_its_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from qiibee_conformance.cli import main

    monkeypatch.delenv("QIIBEE_API_KEY", raising=False)
    assert main(["load", "--role", "worker", "--master-host", "127.0.0.1"]) == 2
    assert "$QIIBEE_API_KEY only" in capsys.readouterr().err


def test_the_locust_command_of_each_role_and_where_the_key_goes(tmp_path: Path) -> None:
    from qiibee_conformance.loadtest.runner import (
        CapacitySettings,
        LoadConfig,
        ReportFiles,
        locust_command,
        locust_env,
    )

    files = ReportFiles(tmp_path, tmp_path / "ledger" / "run")
    base = LoadConfig(None, None, "mixed", 10, 5.0, 30, Path("load/slo.toml"), tmp_path)
    master = LoadConfig(**{**base.__dict__, "role": "master", "expect_workers": 3, "master_bind_port": 6000})
    cmd = locust_command(master, "http://127.0.0.1:9", files)
    assert cmd[cmd.index("--expect-workers") + 1] == "3" and "--master" in cmd
    assert cmd[cmd.index("--master-bind-port") + 1] == "6000" and "--processes" not in cmd
    assert "QIIBEE_API_KEY" not in locust_env(master, "k-secret-1234", files, tmp_path / "plan.json")
    forked = LoadConfig(**{**base.__dict__, "processes": 2})
    cmd = locust_command(forked, "http://127.0.0.1:9", files)
    port = cmd[cmd.index("--master-bind-port") + 1]
    assert cmd[cmd.index("--master-port") + 1] == port and "127.0.0.1" in cmd  # loopback, a free port
    assert (
        locust_env(forked, "k-secret-1234", files, tmp_path / "plan.json")["QIIBEE_API_KEY"]
        == "k-secret-1234"
    )
    search = LoadConfig(**{**base.__dict__, "capacity": CapacitySettings(5, 50, 10)})
    cmd = locust_command(search, "http://127.0.0.1:9", files)
    assert not {"--users", "--run-time", "--spawn-rate"} & set(cmd)  # the shape decides
    settings = json.loads(locust_env(search, "k", files, tmp_path / "plan.json")["QIIBEE_CAPACITY"])
    assert settings["step_users"] == 5 and settings["steps_file"].endswith("capacity-steps.jsonl")
    assert all("k-secret-1234" not in arg for arg in cmd)
