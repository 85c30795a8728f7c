"""Run one load test: prepare, run Locust as a subprocess, then judge in this process.

Locust runs as ``python -m locust -f load/locustfile.py --headless ...`` in a
session of its own, so that ``--processes`` works and gevent's monkey-patching
never reaches this process. Ctrl-C here is forwarded once as SIGINT, which
makes Locust stop its users and still write its HTML, CSV and JSON reports;
then the gates run on whatever was measured.
"""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from qiibee_conformance.client import ApiClient
from qiibee_conformance.errors import RunError
from qiibee_conformance.findings import Nonconformity
from qiibee_conformance.loadtest.common import ENV_API_KEY, ENV_LEDGER_DIR, ENV_PLAN, ENV_SCENARIO
from qiibee_conformance.loadtest.ledger import LedgerWriter, read_ledger
from qiibee_conformance.loadtest.plan import LoadPlan, build_plan
from qiibee_conformance.loadtest.reconciliation import reconcile_run
from qiibee_conformance.loadtest.report import SUMMARY_NAME, RunRecord, render, split_findings, write_summary
from qiibee_conformance.loadtest.slo import (
    AGGREGATE,
    SloSpec,
    evaluate,
    load_slo,
    read_locust_stats,
    read_rate_limited,
    with_rate_limited,
)
from qiibee_conformance.paths import locustfile_path
from qiibee_conformance.preflight import preflight
from qiibee_conformance.redact import Redactor, scrub_files
from qiibee_conformance.settings import DEFAULT_SETTLE_TIMEOUT, Settings, api_key_from
from qiibee_conformance.targets import ensure_safe_target, validate_url

STOP_TIMEOUT_S = 5  # Locust's --stop-timeout: let in-flight tasks finish
STARTUP_GRACE_S = 60  # on top of the run time before the run counts as hung
SIGINT_GRACE_S = 30  # after SIGINT, time to write the reports
TERM_GRACE_S = 10


@dataclass(frozen=True)
class LoadConfig:
    target: str | None
    api_key: str | None
    scenario: str
    users: int
    spawn_rate: float
    run_time_s: int
    slo_path: Path
    reports: Path
    processes: int | None = None
    allow_non_sandbox: bool = False
    settle_timeout: float = DEFAULT_SETTLE_TIMEOUT
    # the user chose settle_timeout: pending past it is a discrepancy (D79), else an advisory (D78)
    settle_deadline_chosen: bool = False
    seed_history: int = 2000
    think_time: float = 0.1
    strict: bool = False  # advisories fail the run


@dataclass(frozen=True)
class LocustOutcome:
    exit_code: int
    interrupted: bool
    timed_out: bool


@dataclass(frozen=True)
class ReportFiles:
    reports: Path
    run_dir: Path

    @property
    def csv_prefix(self) -> Path:
        return self.reports / "locust"

    @property
    def html(self) -> Path:
        return self.reports / "locust.html"

    @property
    def stats_json(self) -> Path:
        # Locust appends ".json" to --json-file.
        return self.reports / "locust_stats.json"

    @property
    def exceptions_csv(self) -> Path:
        return self.reports / "locust_exceptions.csv"

    @property
    def failures_csv(self) -> Path:
        return self.reports / "locust_failures.csv"

    @property
    def log(self) -> Path:
        return self.reports / "locust.log"

    @property
    def summary(self) -> Path:
        return self.reports / SUMMARY_NAME

    def listing(self) -> dict[str, str]:
        return {
            "summary": str(self.summary),
            "html": str(self.html),
            "csv": f"{self.csv_prefix}_*.csv",
            "stats_json": str(self.stats_json),
            "locust_log": str(self.log),
            "ledger": str(self.run_dir),
        }


def locust_command(config: LoadConfig, base_url: str, files: ReportFiles) -> list[str]:
    cmd = [
        sys.executable, "-m", "locust",
        "-f", str(locustfile_path()),
        "--headless",
        "--host", base_url,
        "--scenario", config.scenario,
        "--users", str(config.users),
        "--spawn-rate", str(config.spawn_rate),
        "--run-time", f"{config.run_time_s}s",
        "--stop-timeout", str(STOP_TIMEOUT_S),
        "--csv", str(files.csv_prefix),
        "--html", str(files.html),
        "--json-file", str(files.stats_json.with_suffix("")),
        "--only-summary",
        # Gates decide the exit code, not Locust's "any failure" rule.
        "--exit-code-on-error", "0",
        "--think-time", str(config.think_time),
    ]  # fmt: skip
    if config.processes:
        cmd += ["--processes", str(config.processes)]
    return cmd


def locust_env(config: LoadConfig, api_key: str, files: ReportFiles, plan_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    # The key goes through the environment, never the command line (visible in ps).
    env.update(
        {
            ENV_API_KEY: api_key,
            ENV_PLAN: str(plan_path),
            ENV_LEDGER_DIR: str(files.run_dir),
            ENV_SCENARIO: config.scenario,
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    # The Locust session we started (master and its forked workers); never anything else.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> int | None:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def _stop(proc: subprocess.Popen[bytes]) -> int:
    """SIGINT (reports still written), then SIGTERM, then SIGKILL."""
    for sig, grace in ((signal.SIGINT, SIGINT_GRACE_S), (signal.SIGTERM, TERM_GRACE_S)):
        _signal_group(proc, sig)
        code = _wait(proc, grace)
        if code is not None:
            return code
    _signal_group(proc, signal.SIGKILL)
    return proc.wait()


def run_locust(cmd: list[str], env: dict[str, str], log_path: Path, hard_limit: float) -> LocustOutcome:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        code = _wait(proc, hard_limit)
        if code is not None:
            return LocustOutcome(code, interrupted=False, timed_out=False)
        return LocustOutcome(_stop(proc), interrupted=False, timed_out=True)
    except KeyboardInterrupt:
        print(
            "load: interrupted; stopping Locust and writing the reports (Ctrl-C again to abort)",
            file=sys.stderr,
        )
        try:
            return LocustOutcome(_stop(proc), interrupted=True, timed_out=False)
        except KeyboardInterrupt:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
            raise
    finally:
        if proc.poll() is None:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()


def log_tail(path: Path, redactor: Redactor, lines: int = 3) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    kept = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return redactor.text(" | ".join(kept[-lines:])) or "(empty log)"


def count_exceptions(path: Path) -> int:
    """Task exceptions Locust recorded (its exceptions CSV: a Count column)."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return sum(int(row.get("Count") or 0) for row in csv.DictReader(handle))
    except (OSError, ValueError):
        return 0


@contextlib.contextmanager
def target(config: LoadConfig) -> Iterator[tuple[str, str]]:
    """(base URL, API key) of the target: the given one, or a freshly seeded embedded mock."""
    if config.target:
        ensure_safe_target(config.target, allow_any=config.allow_non_sandbox)
        api_key = api_key_from(config.api_key)
        if not api_key:
            raise RunError(f"no API key for {config.target}: pass --api-key or set {ENV_API_KEY}")
        yield validate_url(config.target), api_key
        return
    from qiibee_conformance.embedded import EmbeddedMock

    print(
        f"load: starting the embedded mock (seeded with {config.seed_history} transactions)", file=sys.stderr
    )
    with EmbeddedMock(seed_history=config.seed_history) as mock:
        yield mock.base_url, mock.api_key


def prepare(
    client: ApiClient, settings: Settings, config: LoadConfig, run_dir: Path
) -> tuple[LoadPlan, Path]:
    """Discover, create and fund the shared users; returns the plan file for Locust."""
    setup_ledger = LedgerWriter(run_dir, label="setup")
    try:
        plan: LoadPlan = build_plan(client, settings, ledger=setup_ledger)
    finally:
        setup_ledger.close()
    if config.scenario == "exchange-burst" and not plan.pairs:
        raise RunError(
            "the exchange burst needs an active whitelist pair from the brand token to an erc20, "
            "external, fiat or donation token, and the target lists none"
        )
    plan_path = run_dir / "plan.json"
    plan.save(plan_path)
    return plan, plan_path


def run_load(config: LoadConfig) -> int:
    spec = load_slo(config.slo_path)  # a bad SLO file is found before anything is created
    with target(config) as (base_url, api_key):
        redactor = Redactor([api_key])
        client = ApiClient(base_url, api_key, redactor=redactor)
        try:
            return _run(config, spec, base_url=base_url, api_key=api_key, client=client)
        finally:
            client.close()


def _run(config: LoadConfig, spec: SloSpec, *, base_url: str, api_key: str, client: ApiClient) -> int:
    redactor = client.redactor
    settings = Settings(
        base_url=base_url,
        api_key=api_key,
        settle_timeout=config.settle_timeout,
        settle_deadline_chosen=config.settle_deadline_chosen,
        strict=config.strict,
    )
    files = ReportFiles(config.reports.resolve(), (config.reports / "ledger" / settings.run_id).resolve())
    preflight(client)
    try:
        plan, plan_path = prepare(client, settings, config, files.run_dir)
    except Nonconformity as err:  # e.g. a redirect met while preparing: the run cannot be made
        raise RunError(f"cannot prepare the load run: {err.message}") from None
    record = RunRecord(
        target=redactor.text(base_url),
        scenario=config.scenario,
        users=config.users,
        spawn_rate=config.spawn_rate,
        run_time_s=config.run_time_s,
        processes=config.processes,
        started_at=datetime.now(UTC),
        slo_spec=spec,
        files=files.listing(),
        strict=config.strict,
        notes=list(plan.notes),
    )
    print(
        f"load: {config.scenario} against {record.target} for {config.run_time_s} s "
        f"({config.users} users{f', {config.processes} processes' if config.processes else ''}); "
        f"Locust log: {files.log}",
        file=sys.stderr,
    )
    outcome = run_locust(
        locust_command(config, base_url, files),
        locust_env(config, api_key, files, plan_path),
        files.log,
        hard_limit=config.run_time_s + STOP_TIMEOUT_S + STARTUP_GRACE_S,
    )
    record.interrupted = outcome.interrupted
    record.locust_exit_code = outcome.exit_code
    scrub_files([files.log, files.html, *files.reports.glob("locust_*.csv")], [api_key])
    if outcome.timed_out:
        record.notes.append("Locust did not stop at the end of its run time and was stopped")
    if not files.stats_json.exists():
        raise RunError(
            f"Locust produced no statistics (exit code {outcome.exit_code}): {log_tail(files.log, redactor)}"
        )
    limited = read_rate_limited(files.run_dir, files.failures_csv)
    routes = with_rate_limited(read_locust_stats(files.stats_json), limited)
    record.requests = sum(r.requests for r in routes if r.name != AGGREGATE)
    record.failures = sum(r.failures for r in routes if r.name != AGGREGATE)
    record.rate_limited = sum(r.rate_limited for r in routes if r.name != AGGREGATE)
    record.routes = [
        {"route": r.key, "requests": r.requests, "failures": r.failures, "rate_limited": r.rate_limited}
        for r in routes
        if r.name != AGGREGATE
    ]
    record.task_exceptions = count_exceptions(files.exceptions_csv)
    record.slo = evaluate(spec, routes)
    record.notes.extend(record.slo.notes)
    contents = read_ledger(files.run_dir)
    record.findings, record.advisories = split_findings(contents.findings)
    locust_failed = outcome.exit_code != 0 and not (outcome.interrupted or outcome.timed_out)
    if record.requests == 0 or locust_failed:
        write_summary(record, files.summary, redactor)
        reason = "made no requests" if record.requests == 0 else f"exited with code {outcome.exit_code}"
        raise RunError(f"the Locust run {reason}: {log_tail(files.log, redactor)} (see {files.log})")
    print(f"load: reconciling {len({a.user for a in contents.attempts})} users", file=sys.stderr)
    try:
        record.reconciliation = reconcile_run(
            client,
            contents,
            plan.brand_token_id,
            settle_timeout=config.settle_timeout,
            explicit_deadline=config.settle_deadline_chosen,
        )
    except (RunError, Nonconformity) as err:
        write_summary(record, files.summary, redactor)
        if isinstance(err, Nonconformity):
            raise RunError(f"cannot reconcile the run: {err.message}") from None
        raise
    write_summary(record, files.summary, redactor)
    for line in render(record):
        print(redactor.text(line))
    return record.exit_code()
