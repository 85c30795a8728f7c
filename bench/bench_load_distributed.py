"""Benchmark: the total request rate of a distributed load run, two workers against one.

Real ``qiibee-conformance load --role master`` and ``--role worker`` processes on this
machine (loopback, no shared directory: the plan out and every ledger back through Locust's
messages), against one embedded mock. Each worker runs the same load: ``--users-per-worker``
users of the mixed scenario, each thinking up to ``--think-time`` seconds between tasks, so
that one worker offers a fixed load; the master is given ``workers × users-per-worker``.

The target must not be the bottleneck, or two workers cannot deliver more than one: the
mixed scenario with think time keeps the mock well under a core (its CPU use is measured and
shown), and on two cores neither Locust worker may saturate one either. What this measures is
what the distribution itself costs: the master's aggregation, the plan going out, and every
money move's ledger entry coming back as messages (write-ahead for every attempt).

Figures: requests/s over the steady window (from the master's ``locust_stats_history.csv``:
cumulative counts at both ends), medians of ``--rounds`` rounds (the order alternates), the
ratio two ÷ one (target ≥ 1.6), and the CPU (cores) of the mock and of each Locust worker.
A figure, not a test: exit 0 whatever the ratio unless ``--fail-on-miss``; 1 when a run did
not pass (its reconciliation, say); 2 when one could not be made. ``--write-readme`` records
the figures in ``bench/README.md`` (section "Load distribution").
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from _report import README, write_readme_section

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Load distribution"
TARGET_RATIO = 1.6
COUNTS = (1, 2)


@dataclass(frozen=True)
class Measurement:
    workers: int
    rps: float
    mock_cpu: float  # cores
    worker_cpu: list[float]  # cores, each Locust worker
    verdict: str


def _free_port() -> int:
    sys.path.insert(0, str(ROOT))
    from qiibee_conformance.embedded import free_port

    return free_port()


def steady_rate(history: Path, warmup: int, seconds: int) -> float:
    """Requests/s between ``warmup`` seconds after the first row and a second before the end."""
    rows = [r for r in csv.DictReader(history.open(encoding="utf-8")) if r["Name"] == "Aggregated"]
    points = [(int(r["Timestamp"]), int(r["Total Request Count"])) for r in rows]
    start = points[0][0] + warmup
    window = [p for p in points if start <= p[0] <= points[0][0] + seconds - 1]
    (t1, c1), (t2, c2) = window[0], window[-1]
    return (c2 - c1) / (t2 - t1)


class Cpu:
    """CPU seconds of a process and its children, sampled while they live."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.process = psutil.Process(pid)
        self.seen: dict[int, float] = {}

    def sample(self) -> None:
        import psutil

        try:
            for each in [self.process, *self.process.children(recursive=True)]:
                times = each.cpu_times()
                self.seen[each.pid] = times.user + times.system
        except psutil.NoSuchProcess:
            pass

    def total(self) -> float:
        return sum(self.seen.values())


def _load(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "qiibee_conformance", "load", *args]
    with log.open("wb") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent)


def measure(
    workers: int, base_url: str, api_key: str, mock_pid: int, args: argparse.Namespace
) -> Measurement:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "QIIBEE_"))}
    env["QIIBEE_API_KEY"] = api_key  # the key travels in the environment only
    port = str(_free_port())
    users = str(workers * args.users_per_worker)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        master = _load(
            [
                "--role", "master", "--expect-workers", str(workers), "--master-bind-host", "127.0.0.1",
                "--master-bind-port", port, "--target", base_url, "--scenario", "mixed", "--users", users,
                "--spawn-rate", users, "--run-time", f"{args.seconds}s", "--think-time", str(args.think_time),
                "--reports", str(root / "master"),
            ],
            env, root / "master.log",
        )  # fmt: skip
        nodes = [worker(i, port, env, root) for i in range(workers)]
        cpus, mock = [Cpu(n.pid) for n in nodes], Cpu(mock_pid)
        return _watch(workers, master, nodes, cpus, mock, root, args)


def worker(index: int, port: str, env: dict[str, str], root: Path) -> subprocess.Popen[bytes]:
    args = ["--role", "worker", "--master-host", "127.0.0.1", "--master-port", port]
    return _load([*args, "--reports", str(root / f"w{index}")], env, root / f"w{index}.log")


def _watch(
    workers: int, master: subprocess.Popen[bytes], nodes: list[subprocess.Popen[bytes]], cpus: list[Cpu],
    mock: Cpu, root: Path, args: argparse.Namespace,
) -> Measurement:  # fmt: skip
    """Sample CPU over the steady window, wait for the run's end, read the master's figures."""
    history = root / "master" / "locust_stats_history.csv"
    while not history.exists() and master.poll() is None:
        time.sleep(0.2)
    time.sleep(args.warmup)
    for each in [mock, *cpus]:
        each.sample()
    before = [c.total() for c in [mock, *cpus]]
    t1 = time.monotonic()
    time.sleep(max(1, args.seconds - args.warmup - 2))
    for each in [mock, *cpus]:
        each.sample()
    span = time.monotonic() - t1
    used = [(c.total() - b) / span for c, b in zip([mock, *cpus], before, strict=True)]
    master.wait(timeout=args.seconds + 300)
    for node in nodes:
        node.wait(timeout=120)
    summary = json.loads((root / "master" / "load-summary.json").read_text())
    if master.returncode not in (0, 1):
        raise SystemExit(
            f"bench: the {workers}-worker run failed: {(root / 'master.log').read_text()[-800:]}"
        )
    rate = steady_rate(history, args.warmup, args.seconds)
    return Measurement(workers, rate, used[0], used[1:], summary["verdict"])


def _round(
    index: int, base_url: str, api_key: str, mock_pid: int, args: argparse.Namespace
) -> dict[int, Measurement]:
    order = COUNTS if index % 2 == 0 else tuple(reversed(COUNTS))
    return {n: measure(n, base_url, api_key, mock_pid, args) for n in order}


def render(rounds: list[dict[int, Measurement]], args: argparse.Namespace, load: tuple[float, float]) -> str:
    rps = {n: statistics.median(r[n].rps for r in rounds) for n in COUNTS}
    ratio = rps[2] / rps[1]
    paired = statistics.median(r[2].rps / r[1].rps for r in rounds)
    verdict = "met" if min(ratio, paired) >= TARGET_RATIO else "MISSED"
    lines = [
        SECTION,
        "",
        "`bench/bench_load_distributed.py`: `qiibee-conformance load --role master` with one, then two",
        "`--role worker` processes on this machine (loopback, nothing shared but Locust's messages),",
        f"against one embedded mock; the mixed scenario, {args.users_per_worker} users per worker, each",
        f"thinking up to {args.think_time} s between tasks; {args.seconds} s runs, requests/s over the",
        f"window from {args.warmup} s to the end (the master's cumulative counts). Which target: the",
        "reference mock itself, kept off the bottleneck by the think time (its CPU below); every money",
        "move's ledger entry still travels to the master as a message.",
        "",
        "| round | workers | requests/s | mock CPU (cores) | each worker's CPU (cores) | verdict |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for index, measured in enumerate(rounds, 1):
        for m in measured.values():
            each = ", ".join(f"{c:.2f}" for c in m.worker_cpu)
            lines.append(f"| {index} | {m.workers} | {m.rps:.0f} | {m.mock_cpu:.2f} | {each} | {m.verdict} |")
    lines += [
        "",
        f"Median requests/s: one worker {rps[1]:.0f}, two workers {rps[2]:.0f}. "
        f"Two ÷ one: **{ratio:.2f}×** of medians ({paired:.2f}× paired; target ≥ {TARGET_RATIO}: {verdict}).",
        "",
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"Locust {version('locust')}; 1-minute load average {load[0]:.1f} before and {load[1]:.1f} after.",
        "",
        *EXPLANATION.splitlines(),
    ]
    return "\n".join(lines)


EXPLANATION = """\
Why a paced load, not each worker flat out: this machine has two cores. Two workers each using a
full core would leave nothing to the mock (or to the master), so the ratio would measure the
machine, not the distribution. With each worker offering the same fixed load and the mock under a
core, a ratio near 2 says that the second worker's load arrives whole: the master does not cap it,
and neither do the ledger messages (one per money move, a batch that goes out with every attempt).
On machines of their own each worker scales to its core (`bench_load_overhead.py` measures one)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users-per-worker", type=int, default=40)
    parser.add_argument("--think-time", type=float, default=0.2)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed-history", type=int, default=2000)
    parser.add_argument("--write-readme", action="store_true")
    parser.add_argument("--fail-on-miss", action="store_true")
    args = parser.parse_args(argv)
    if args.seconds < args.warmup + 5:
        parser.error("--seconds must exceed --warmup by at least 5")
    sys.path.insert(0, str(ROOT))
    from qiibee_conformance.embedded import EmbeddedMock

    load_before = os.getloadavg()[0]
    rounds: list[dict[int, Measurement]] = []
    with EmbeddedMock(seed_history=args.seed_history) as mock:
        pid = mock._proc.pid if mock._proc is not None else 0
        for index in range(args.rounds):
            rounds.append(_round(index, mock.base_url, mock.api_key, pid, args))
            for m in rounds[-1].values():
                cpu = ", ".join(f"{c:.2f}" for c in m.worker_cpu)
                print(
                    f"round {index + 1}: {m.workers} worker(s) {m.rps:7.0f} req/s  mock {m.mock_cpu:.2f} "
                    f"cores  workers {cpu} cores  {m.verdict}"
                )
    text = render(rounds, args, (load_before, os.getloadavg()[0]))
    ratio = statistics.median(r[2].rps for r in rounds) / statistics.median(r[1].rps for r in rounds)
    print(f"ratio two workers / one: {ratio:.2f} (target >= {TARGET_RATIO})")
    if args.write_readme:
        write_readme_section(SECTION, text)
        print(f"wrote the figures to {README}")
    failed = any(m.verdict != "pass" for r in rounds for m in r.values())
    return 1 if failed or (args.fail_on_miss and ratio < TARGET_RATIO) else 0


if __name__ == "__main__":
    raise SystemExit(main())
