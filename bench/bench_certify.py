"""Benchmark ``qiibee-conformance certify`` ("Certify" issue) against plain schemathesis.

Side by side, alternating, ``--runs`` times each:

* ``qiibee-conformance certify`` at default settings against the embedded mock
  (wall time of the whole command, its own mock start included; the request and
  case counts come from its ``certification.json``). Target: ≤ 60 s on 2 cores.
* ``schemathesis run openapi/qiibee.yaml --url URL --max-examples 50`` with the
  X-API-KEY header, against a fresh embedded mock of the same kind (wall time of
  the schemathesis process only; cases from its summary, requests from its HAR).
  Target: certify ≤ 1.5× this.

The key goes to schemathesis through a temporary ``schemathesis.toml`` reading
``${QC_BENCH_KEY}`` (the same header ``-H`` would send), so it is on no command
line and in no output. Figures, not tests: a missed target is reported (exit 0
unless ``--fail-on-miss``); certify failing the reference mock is exit 1; a run
that cannot be made is exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _report import machine, table, verdict

from qiibee_conformance.embedded import EmbeddedMock
from qiibee_conformance.errors import RunError
from qiibee_conformance.paths import spec_path
from qiibee_conformance.redact import Redactor, scrub_header_values

BIN_DIR = Path(sys.executable).parent
CERTIFY_TIMEOUT = 1200.0
TARGET_CERTIFY_S = 60.0
TARGET_RATIO = 1.5
MAX_EXAMPLES = 50
_GENERATED_RE = re.compile(r"(\d+)\s+generated")
SCHEMATHESIS_TOML = 'headers = { "X-API-KEY" = "${QC_BENCH_KEY}" }\n'


def log(message: str) -> None:
    print(f"[bench_certify] {message}", flush=True)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def tool(name: str) -> Path:
    """A console script of this venv, or exit 2 saying how to get it."""
    path = BIN_DIR / name
    if not path.exists():
        print(
            f"bench_certify.py: cannot run: {path} not found; install the project with"
            " `pip install -e '.[test]'` into this interpreter's venv",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return path


def clean_env() -> dict[str, str]:
    """The environment for child runs, without a key of the operator's that could leak in."""
    env = {k: v for k, v in os.environ.items() if k not in ("QIIBEE_API_KEY", "QC_BENCH_KEY")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def tail(text: str, redactor: Redactor, lines: int = 4) -> str:
    kept = [ln.strip() for ln in text.splitlines() if ln.strip()][-lines:]
    return scrub_header_values(redactor.text(" | ".join(kept)))


# ---- certify ----------------------------------------------------------------------------------


@dataclass
class CertifyRun:
    wall_s: float
    exit_code: int
    verdict: str = ""
    reported_s: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    tests: dict[str, int] = field(default_factory=dict)


def run_certify(binary: Path, workdir: Path, index: int) -> CertifyRun:
    """One ``certify`` at default settings (embedded mock); timed around the whole process."""
    reports = workdir / f"certify-{index}"
    started = time.monotonic()
    proc = subprocess.run(
        [str(binary), "certify", "--reports", str(reports)],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=workdir,
        timeout=CERTIFY_TIMEOUT,
        check=False,
    )
    run = CertifyRun(wall_s=time.monotonic() - started, exit_code=proc.returncode)
    report = reports / "certification.json"
    if proc.returncode == 2 or not report.exists():
        raise RunError(f"certify could not run (exit {proc.returncode}): {tail(proc.stderr, Redactor())}")
    doc: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    run.verdict = str(doc.get("verdict", ""))
    run.reported_s = float(doc.get("duration_s") or 0.0)
    run.counts = {k: int(v) for k, v in (doc.get("counts") or {}).items() if isinstance(v, int)}
    run.tests = {k: int(v) for k, v in (doc.get("summary", {}).get("tests") or {}).items()}
    if proc.returncode != 0:
        (workdir / f"certify-{index}.out").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    return run


# ---- plain schemathesis ------------------------------------------------------------------------


@dataclass
class SchemathesisRun:
    wall_s: float
    exit_code: int
    cases: int = 0
    requests: int = 0
    summary: str = ""


BASELINE_EXCLUDED_CHECKS = (
    "positive_data_acceptance",
    "unsupported_method",
    "missing_required_header",
    "allow_header_conformance",
)


def run_schemathesis(binary: Path, workdir: Path, index: int) -> SchemathesisRun:
    """One plain ``schemathesis run`` against a fresh embedded mock; timed around schemathesis only."""
    config = workdir / "schemathesis.toml"
    config.write_text(SCHEMATHESIS_TOML, encoding="utf-8")
    har = workdir / f"schemathesis-{index}.har"
    with EmbeddedMock() as mock:
        redactor = Redactor([mock.api_key])
        cmd = [
            str(binary),
            "--config-file",
            str(config),
            "--no-color",
            "run",
            str(spec_path()),
            "--url",
            mock.base_url,
            "--max-examples",
            str(MAX_EXAMPLES),
            # the checks certify leaves out because they demand what the documents never
            # promise (openapi/DECISIONS.md D146); otherwise schemathesis stops fuzzing an
            # operation at its first (false) failure and does less work than certify
            "--exclude-checks",
            ",".join(BASELINE_EXCLUDED_CHECKS),
            "--report",
            "har",
            "--report-har-path",
            str(har),
        ]
        env = {**clean_env(), "QC_BENCH_KEY": mock.api_key}
        started = time.monotonic()
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=env, cwd=workdir, timeout=CERTIFY_TIMEOUT, check=False
        )
        wall = time.monotonic() - started
    out = redactor.text(proc.stdout + proc.stderr)
    run = SchemathesisRun(wall_s=wall, exit_code=proc.returncode)
    found = _GENERATED_RE.search(out.split("Test cases:", 1)[-1])
    if found is None:
        raise RunError(f"schemathesis gave no summary (exit {proc.returncode}): {tail(out, redactor)}")
    run.cases = int(found.group(1))
    if har.exists():
        run.requests = len(json.loads(har.read_text(encoding="utf-8")).get("log", {}).get("entries", []))
    summary = [ln.strip() for ln in out.splitlines() if re.search(r"\b(passed|failed|errors?)\b.* in ", ln)]
    run.summary = scrub_header_values(summary[-1] if summary else "")
    (workdir / f"schemathesis-{index}.out").write_text(scrub_header_values(out), encoding="utf-8")
    return run


# ---- report ------------------------------------------------------------------------------------


def summarize(certs: list[CertifyRun], sts: list[SchemathesisRun]) -> tuple[str, dict[str, Any], bool]:
    cert_s = median([c.wall_s for c in certs])
    st_s = median([s.wall_s for s in sts])
    of_medians = cert_s / st_s if st_s else float("inf")
    # Runs are paired (adjacent in time, so they share the machine's mood); the more
    # conservative of the two readings decides.
    paired = median([c.wall_s / s.wall_s for c, s in zip(certs, sts, strict=True) if s.wall_s])
    ratio = max(of_medians, paired)
    last = certs[-1]
    time_ok, ratio_ok = cert_s <= TARGET_CERTIFY_S, ratio <= TARGET_RATIO
    rows = [
        (
            "qiibee-conformance certify, wall time",
            f"{cert_s:.1f} s",
            f"<= {TARGET_CERTIFY_S:g} s",
            verdict(time_ok),
        ),
        (
            "  requests / schemathesis cases",
            f"{last.counts.get('total_requests', 0)} / {last.counts.get('schemathesis_cases', 0)}",
            "",
            "",
        ),
        (
            "  tests passed / failed / skipped",
            f"{last.tests.get('passed', 0)} / {last.tests.get('failed', 0)} / {last.tests.get('skipped', 0)}",
            "",
            last.verdict,
        ),
        (f"schemathesis run --max-examples {MAX_EXAMPLES}", f"{st_s:.1f} s", "", ""),
        ("  requests / cases", f"{sts[-1].requests} / {sts[-1].cases}", "", f"exit {sts[-1].exit_code}"),
        (
            "ratio certify / schemathesis",
            f"{of_medians:.2f}x of medians, {paired:.2f}x paired",
            f"<= {TARGET_RATIO:g}x",
            verdict(ratio_ok),
        ),
    ]
    data = {
        "machine": machine(),
        "certify": [asdict(c) for c in certs],
        "schemathesis": [asdict(s) for s in sts],
        "certify_median_s": cert_s,
        "schemathesis_median_s": st_s,
        "ratio_of_medians": of_medians,
        "ratio_paired_median": paired,
        "ratio": ratio,
        "targets_met": {"certify_time": time_ok, "ratio": ratio_ok},
    }
    return table(rows), data, time_ok and ratio_ok


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3, help="repetitions of each measurement (default 3)")
    p.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    p.add_argument("--keep", type=Path, default=None, help="keep the reports and outputs in this directory")
    p.add_argument("--fail-on-miss", action="store_true", help="exit 1 when a target is missed")
    return p.parse_args(argv)


def measure(args: argparse.Namespace, workdir: Path) -> tuple[list[CertifyRun], list[SchemathesisRun]]:
    qc, st = tool("qiibee-conformance"), tool("schemathesis")
    certs: list[CertifyRun] = []
    sts: list[SchemathesisRun] = []
    for i in range(args.runs):
        order = ["certify", "schemathesis"] if i % 2 == 0 else ["schemathesis", "certify"]
        for name in order:
            if name == "certify":
                c = run_certify(qc, workdir, i)
                certs.append(c)
                log(
                    f"run {i + 1}/{args.runs} certify: {c.wall_s:.1f} s, exit {c.exit_code}, {c.verdict},"
                    f" {c.counts.get('total_requests', 0)} requests"
                )
            else:
                s = run_schemathesis(st, workdir, i)
                sts.append(s)
                log(
                    f"run {i + 1}/{args.runs} schemathesis: {s.wall_s:.1f} s, exit {s.exit_code},"
                    f" {s.cases} cases, {s.requests} requests"
                )
    return certs, sts


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    info = machine()
    log(
        f"machine: {info['nproc']} cpu(s), {info['cpu']}; python {info['python']};"
        f" load average {info['loadavg']} (other work on the machine skews every figure)"
    )
    try:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            certs, sts = measure(args, args.keep.resolve())
        else:
            with tempfile.TemporaryDirectory(prefix="qc-bench-certify-") as tmp:
                certs, sts = measure(args, Path(tmp))
    except (RunError, subprocess.TimeoutExpired) as err:
        print(f"bench_certify.py: error: {err}", file=sys.stderr)
        return 2
    text, figures, all_met = summarize(certs, sts)
    print()
    print(f"certify benchmark ({info['nproc']} cpu, {info['cpu']}; medians of {args.runs} runs)")
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    if any(c.exit_code != 0 for c in certs):
        print("bench_certify.py: certify did not pass the reference mock (a false failure or a mock bug)")
        return 1
    return 1 if args.fail_on_miss and not all_met else 0


if __name__ == "__main__":
    raise SystemExit(main())
