"""Benchmark: the capacity of the reference mock, found by ``qiibee-conformance load --find-capacity``.

One mock process (``EmbeddedMock``, the default seeded history), the mixed scenario, the
project's ``load/slo.toml``, one Locust process generating the load on the same machine.
The search steps the users up by ``--step-users`` every ``--step-time`` until an SLO breaks,
then narrows down on the knee (``qiibee_conformance/loadtest/capacity.py``). Figures: the
highest user count and request rate within the SLOs, the SLO that broke first, and the CPU
the mock and the load generator used over the whole search (psutil): a knee reached with the
generator's core saturated is the machine's, not the mock's.

A figure, not a test: exit 0 when the search ran and reconciled (1 when reconciliation or the
contract failed: then the figure is no capacity; 2 when it could not run).
``--write-readme`` records the figures in ``bench/README.md`` (section "Load capacity") and
copies the chart to ``bench/load-capacity.svg``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from _report import README, write_readme_section

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "bench" / "load-capacity.svg"
SECTION = "## Load capacity"


class Cpu:
    """CPU seconds (user + system) of processes and their children, sampled while they live:
    a child that has exited keeps the last figure seen."""

    def __init__(self, *pids: int) -> None:
        self.pids = pids
        self.seen: dict[int, float] = {}

    def sample(self) -> None:
        import psutil

        for pid in self.pids:
            try:
                proc = psutil.Process(pid)
                for each in [proc, *proc.children(recursive=True)]:
                    times = each.cpu_times()
                    self.seen[each.pid] = times.user + times.system
            except psutil.NoSuchProcess:
                continue

    def total(self) -> float:
        return sum(self.seen.values())


def search(args: argparse.Namespace, reports: Path) -> tuple[int, dict[str, Any], dict[str, float]]:
    """Run the search against a fresh mock; (exit code, capacity.json, CPU cores per process)."""
    sys.path.insert(0, str(ROOT))
    from qiibee_conformance.embedded import EmbeddedMock

    with EmbeddedMock(seed_history=args.seed_history) as mock:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "QIIBEE_"))}
        env["QIIBEE_API_KEY"] = mock.api_key
        argv = [
            sys.executable, "-m", "qiibee_conformance", "load", "--target", mock.base_url,
            "--reports", str(reports), "--find-capacity", "--scenario", "mixed",
            "--step-users", str(args.step_users), "--max-users", str(args.max_users),
            "--step-time", f"{args.step_time}s",
        ]  # fmt: skip
        started = time.monotonic()
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        mock_cpu = Cpu(mock._proc.pid if mock._proc is not None else 0)
        load_cpu = Cpu(proc.pid)
        while proc.poll() is None:
            mock_cpu.sample()
            load_cpu.sample()
            time.sleep(1)
        cpu_mock, cpu_load = mock_cpu.total(), load_cpu.total()
        output = proc.stdout.read() if proc.stdout else ""
        elapsed = time.monotonic() - started
    print(output[-3000:])
    found: dict[str, Any] = json.loads((reports / "capacity.json").read_text())
    cores = {"mock": cpu_mock / elapsed, "generator": cpu_load / elapsed, "seconds": elapsed}
    return proc.returncode, found, cores


def _brief(texts: list[str], keep: int = 2) -> str:
    more = f" (and {len(texts) - keep} more)" if len(texts) > keep else ""
    return "; ".join(texts[:keep]) + more


def render(found: dict[str, Any], cores: dict[str, float], args: argparse.Namespace, load: float) -> str:
    cap, knee = found["capacity"], found["knee"]
    lines = [
        SECTION,
        "",
        "`bench/bench_load_capacity.py`: `qiibee-conformance load --find-capacity` against the reference",
        f"mock (one process, {args.seed_history} seeded transactions), the mixed scenario (think time up to",
        "0.1 s per user), the project's `load/slo.toml`; one Locust process on the same two cores.",
        f"Steps of {args.step_users} users every {args.step_time} s (the last part of each measured), up to",
        f"{args.max_users}, then bisection down to a quarter of a step. The whole search took",
        f"{cores['seconds']:.0f} s; reconciliation and contract held: {found['valid']}.",
        "",
        "| measure | figure |",
        "| --- | ---: |",
        f"| highest user count within the SLOs | **{cap['users']}** |",
        f"| highest request rate within the SLOs | **{cap['requests_per_s']:.0f} req/s** |",
        f"| first user count that broke an SLO | {knee['first_bad_users']} |",
        f"| what broke first (the worst first) | {_brief(found['broke_first_text']) or 'nothing'} |",
        f"| CPU, mock / load generator | {cores['mock']:.2f} / {cores['generator']:.2f} cores |",
        "",
        "| users | req/s | p50 ms | p95 ms | p99 ms | errors | SLOs |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for step in sorted(found["steps"], key=lambda s: s["users"]):
        verdict = "held" if step["ok"] else _brief(step["breach_text"])
        lines.append(
            f"| {step['users']} | {step['requests_per_s']:.0f} | {step['p50_ms']} | {step['p95_ms']} "
            f"| {step['p99_ms']} | {100 * float(step['error_rate']):.2f} % | {verdict} |"
        )
    lines += [
        "",
        "![capacity of the reference mock](load-capacity.svg)",
        "",
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"Locust {version('locust')}; 1-minute load average {load:.1f} before the search.",
        "",
        *EXPLANATION.splitlines(),
    ]
    return "\n".join(lines)


EXPLANATION = """\
How to read it: once the mock's one process is saturated (where the request rate stops
rising), more users only queue: latency grows with the user count until a budget of
`load/slo.toml` breaks, and the rate may even fall as more connections compete for the one
process. So the two figures differ: the highest rate within the SLOs was measured at fewer
users than the highest user count within them. On two cores the mock and the load generator
share the machine (and here other work shared it too), so this is the capacity of the mock
*with* a Locust process beside it: on a machine of its own it takes more. The CPU line is the
average over the whole search, ramp and bisection included."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step-users", type=int, default=25)
    parser.add_argument("--max-users", type=int, default=1000)
    parser.add_argument("--step-time", type=int, default=20)
    parser.add_argument("--seed-history", type=int, default=20000)
    parser.add_argument("--keep", default=None, help="where the search's reports (default: temporary)")
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        reports = Path(args.keep) if args.keep else Path(tmp)
        code, found, cores = search(args, reports)
        print(found["headline"])
        print(f"CPU (cores): mock {cores['mock']:.2f}, load generator {cores['generator']:.2f}")
        if args.write_readme and code in (0, 1):
            write_readme_section(SECTION, render(found, cores, args, load))
            shutil.copyfile(reports / "capacity.svg", CHART)
            print(f"wrote the figures to {README} and the chart to {CHART}")
    return code if code in (0, 1) else 2


if __name__ == "__main__":
    raise SystemExit(main())
