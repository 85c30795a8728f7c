"""Benchmark ``certify`` against a distant target ("Hostile and distant targets" issue).

Side by side, alternating, ``--runs`` times each, at default settings:

* ``qiibee-conformance certify --target URL`` against a fresh embedded mock, directly;
* the same against a fresh embedded mock behind a loopback proxy that holds every
  answer ``--delay`` seconds (default 0.1: a sandbox 100 ms away).

Wall time of the certify process only (the mocks and the proxy are started before the
clock starts). Target: the delayed run takes at most 2x the direct one, which only
concurrency can give (about 1,900 requests one after another would wait over 3
minutes). The ratio is taken of the medians and of the paired runs (adjacent in
time, so they share the machine's mood); the more conservative reading decides.

Figures, not tests: a missed target is reported (exit 0 unless ``--fail-on-miss``);
certify failing the reference mock is exit 1; a run that cannot be made is exit 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from _report import machine, table, verdict
from bench_certify import CERTIFY_TIMEOUT, clean_env, median, tail, tool

from qiibee_conformance.embedded import EmbeddedMock
from qiibee_conformance.errors import RunError
from qiibee_conformance.redact import Redactor

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.hostile import hostile  # the delay proxy of the hostile-target tests

TARGET_RATIO = 2.0
DEFAULT_DELAY = 0.1


def log(message: str) -> None:
    print(f"[bench_latency] {message}", flush=True)


@dataclass
class Run:
    kind: str  # "direct" or "delayed"
    wall_s: float
    exit_code: int
    verdict: str
    requests: int
    p50_ms: float


@contextlib.contextmanager
def target(kind: str, delay: float) -> Iterator[tuple[str, str]]:
    """(base URL, key) of a fresh mock, behind the delay proxy for "delayed"."""
    with EmbeddedMock() as mock:
        if kind == "direct":
            yield mock.base_url, mock.api_key
            return
        with hostile(mock.base_url, "latency", delay=delay) as proxy:
            yield proxy.base_url, mock.api_key


def run_certify(binary: Path, workdir: Path, kind: str, index: int, delay: float) -> Run:
    reports = workdir / f"{kind}-{index}"
    with target(kind, delay) as (url, key):
        started = time.monotonic()
        proc = subprocess.run(
            [str(binary), "certify", "--target", url, "--reports", str(reports)],
            capture_output=True,
            text=True,
            env={**clean_env(), "QIIBEE_API_KEY": key},
            cwd=workdir,
            timeout=CERTIFY_TIMEOUT,
            check=False,
        )
        wall = time.monotonic() - started
    report = reports / "certification.json"
    if proc.returncode == 2 or not report.exists():
        raise RunError(
            f"certify could not run (exit {proc.returncode}): {tail(proc.stderr, Redactor([key]))}"
        )
    doc: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    latency = (doc.get("latency_ms") or {}).get("all") or {}
    return Run(
        kind=kind,
        wall_s=wall,
        exit_code=proc.returncode,
        verdict=str(doc.get("verdict", "")),
        requests=int((doc.get("counts") or {}).get("total_requests") or 0),
        p50_ms=float(latency.get("p50_ms") or 0.0),
    )


def measure(runs: int, delay: float, workdir: Path) -> list[Run]:
    binary = tool("qiibee-conformance")
    done: list[Run] = []
    for i in range(runs):
        for kind in ("direct", "delayed") if i % 2 == 0 else ("delayed", "direct"):
            run = run_certify(binary, workdir, kind, i, delay)
            done.append(run)
            log(f"run {i + 1}/{runs} {kind}: {run.wall_s:.1f} s, exit {run.exit_code}, {run.verdict}, "
                f"{run.requests} requests, p50 {run.p50_ms:.0f} ms")  # fmt: skip
    return done


def summarize(runs: list[Run], delay: float) -> tuple[str, dict[str, Any], bool]:
    direct = [r for r in runs if r.kind == "direct"]
    delayed = [r for r in runs if r.kind == "delayed"]
    direct_s, delayed_s = median([r.wall_s for r in direct]), median([r.wall_s for r in delayed])
    of_medians = delayed_s / direct_s if direct_s else float("inf")
    paired = median([d.wall_s / s.wall_s for d, s in zip(delayed, direct, strict=True) if s.wall_s])
    ratio = max(of_medians, paired)
    ok = ratio <= TARGET_RATIO
    sequential = delayed[-1].requests * delay
    rows = [
        ("certify, direct", f"{direct_s:.1f} s", "", direct[-1].verdict),
        (
            f"certify, {delay * 1000:.0f} ms added to every answer",
            f"{delayed_s:.1f} s",
            "",
            delayed[-1].verdict,
        ),
        ("  requests (delay if sent one by one)", f"{delayed[-1].requests} ({sequential:.0f} s)", "", ""),
        (
            "ratio delayed / direct",
            f"{of_medians:.2f}x of medians, {paired:.2f}x paired",
            f"<= {TARGET_RATIO:g}x",
            verdict(ok),
        ),
    ]
    data = {
        "machine": machine(),
        "delay_s": delay,
        "runs": [asdict(r) for r in runs],
        "direct_median_s": direct_s,
        "delayed_median_s": delayed_s,
        "ratio_of_medians": of_medians,
        "ratio_paired_median": paired,
        "ratio": ratio,
        "target_met": ok,
    }
    return table(rows), data, ok


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3, help="repetitions of each measurement (default 3)")
    p.add_argument("--delay", type=float, default=DEFAULT_DELAY, help="seconds added to every answer (0.1)")
    p.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    p.add_argument("--keep", type=Path, default=None, help="keep the reports in this directory")
    p.add_argument("--fail-on-miss", action="store_true", help="exit 1 when the target is missed")
    args = p.parse_args(argv)
    if args.runs < 1 or args.delay <= 0:
        p.error("--runs must be at least 1 and --delay above 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    info = machine()
    log(f"machine: {info['nproc']} cpu(s), {info['cpu']}; python {info['python']}; "
        f"load average {info['loadavg']} (other work on the machine skews every figure)")  # fmt: skip
    try:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            runs = measure(args.runs, args.delay, args.keep.resolve())
        else:
            with tempfile.TemporaryDirectory(prefix="qc-bench-latency-") as tmp:
                runs = measure(args.runs, args.delay, Path(tmp))
    except (RunError, subprocess.TimeoutExpired) as err:
        print(f"bench_latency.py: error: {err}", file=sys.stderr)
        return 2
    text, figures, met = summarize(runs, args.delay)
    print()
    print(f"latency benchmark ({info['nproc']} cpu, {info['cpu']}; medians of {args.runs} runs)")
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    if any(r.exit_code != 0 for r in runs):
        print("bench_latency.py: certify did not pass the reference mock (a false failure or a mock bug)")
        return 1
    return 1 if args.fail_on_miss and not met else 0


if __name__ == "__main__":
    raise SystemExit(main())
