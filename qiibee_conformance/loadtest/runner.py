"""Run one load test: prepare, run Locust as a subprocess, then judge in this process.

One machine (``--processes N`` included) or the master of several (``--role master``): the
same steps. The plan (discovery, users, funding) is made here once; Locust's master sends
it to its workers, and their ledgers come back to it through Locust's messages, into the
ledger directory this process reads once Locust has exited (``cluster.py``). Then the SLO
gates, the reconciliation and the contract findings decide the exit code. With
``--find-capacity`` the Locust master runs the capacity search as its load shape, and the
SLOs judge each step instead of the whole run (``capacity.py``).
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from qiibee_conformance.client import ApiClient
from qiibee_conformance.embedded import free_port
from qiibee_conformance.errors import RunError
from qiibee_conformance.findings import Nonconformity
from qiibee_conformance.loadtest.capacity import CapacityConfig, CapacityResult, read_steps
from qiibee_conformance.loadtest.capacity_report import write_capacity
from qiibee_conformance.loadtest.cluster_status import read_status
from qiibee_conformance.loadtest.common import (
    ENV_API_KEY,
    ENV_CAPACITY,
    ENV_LEDGER_DIR,
    ENV_PLAN,
    ENV_SCENARIO,
)
from qiibee_conformance.loadtest.ledger import LedgerContents, LedgerWriter, read_ledger
from qiibee_conformance.loadtest.locust_process import LocustOutcome, count_exceptions, log_tail, run_locust
from qiibee_conformance.loadtest.plan import LoadPlan, build_plan
from qiibee_conformance.loadtest.reconciliation import reconcile_run
from qiibee_conformance.loadtest.report import (
    EXIT_INTERRUPTED,
    SUMMARY_NAME,
    RunRecord,
    render,
    split_findings,
    write_summary,
)
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
DRAIN_GRACE_S = 20  # a master's workers hand over their ledgers
SINGLE, MASTER, WORKER = "single", "master", "worker"
LOCUST_MASTER_PORT = 5557


@dataclass(frozen=True)
class CapacitySettings:
    """``--find-capacity``: steps of ``step_users`` up to ``max_users``, each held ``step_time_s``."""

    step_users: int
    max_users: int
    step_time_s: int


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
    role: str = SINGLE
    expect_workers: int = 0
    master_bind_host: str = "*"
    master_bind_port: int = LOCUST_MASTER_PORT
    expect_workers_max_wait: int = 300
    capacity: CapacitySettings | None = None


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

    @property
    def steps(self) -> Path:
        return self.run_dir / "capacity-steps.jsonl"

    def listing(self, capacity: bool = False) -> dict[str, str]:
        found = {
            "summary": str(self.summary),
            "html": str(self.html),
            "csv": f"{self.csv_prefix}_*.csv",
            "stats_json": str(self.stats_json),
            "locust_log": str(self.log),
            "ledger": str(self.run_dir),
        }
        if capacity:
            found.update(
                {f"capacity_{k}": str(self.reports / f"capacity.{k}") for k in ("json", "svg", "html")}
            )
        return found


# The Locust command --------------------------------------------------------------------------
def capacity_config(config: LoadConfig, files: ReportFiles) -> CapacityConfig | None:
    search = config.capacity
    if search is None:
        return None
    rate = max(config.spawn_rate, float(search.step_users))
    # A Locust master hears from its workers every 3 s: a step is measured once their reports are in.
    lag = 3.0 if config.role == MASTER or config.processes else 0.0
    return CapacityConfig(
        step_users=search.step_users,
        max_users=search.max_users,
        step_time_s=float(search.step_time_s),
        spawn_rate=rate,
        settle_s=1.0 + search.step_users / rate + lag,
        slo_path=str(config.slo_path.resolve()),
        steps_file=str(files.steps),
    )


def _load_flags(config: LoadConfig) -> list[str]:
    if config.capacity is not None:
        return []  # the capacity shape sets the users and ends the run
    return [
        "--users", str(config.users), "--spawn-rate", str(config.spawn_rate),
        "--run-time", f"{config.run_time_s}s",
    ]  # fmt: skip


def _distribution_flags(config: LoadConfig) -> list[str]:
    if config.role == MASTER:
        return [
            "--master", "--expect-workers", str(config.expect_workers),
            "--master-bind-host", config.master_bind_host, "--master-bind-port", str(config.master_bind_port),
            "--expect-workers-max-wait", str(config.expect_workers_max_wait),
        ]  # fmt: skip
    if config.processes:
        # Forked workers and their master on a free loopback port: runs side by side never meet.
        port = str(free_port())
        return [
            "--processes", str(config.processes), "--master-bind-host", "127.0.0.1",
            "--master-bind-port", port, "--master-port", port,
        ]  # fmt: skip
    return []


def locust_command(config: LoadConfig, base_url: str, files: ReportFiles) -> list[str]:
    cmd = [
        sys.executable, "-m", "locust",
        "-f", str(locustfile_path()),
        "--headless",
        "--host", base_url,
        "--scenario", config.scenario,
        *_load_flags(config),
        "--stop-timeout", str(STOP_TIMEOUT_S),
        "--csv", str(files.csv_prefix),
        "--html", str(files.html),
        "--json-file", str(files.stats_json.with_suffix("")),
        "--only-summary",
        # Gates decide the exit code, not Locust's "any failure" rule.
        "--exit-code-on-error", "0",
        "--think-time", str(config.think_time),
    ]  # fmt: skip
    return cmd + _distribution_flags(config)


def locust_env(config: LoadConfig, api_key: str, files: ReportFiles, plan_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_") and k != ENV_API_KEY}
    env.update(
        {
            ENV_PLAN: str(plan_path),
            ENV_LEDGER_DIR: str(files.run_dir),
            ENV_SCENARIO: config.scenario,
            "PYTHONUNBUFFERED": "1",
        }
    )
    if config.role != MASTER:
        # The key goes through the environment, never the command line (visible in ps). A master
        # sends no request: its workers read the key from their own environment.
        env[ENV_API_KEY] = api_key
    search = capacity_config(config, files)
    if search is not None:
        env[ENV_CAPACITY] = search.to_json()
    return env


def hard_limit(config: LoadConfig, files: ReportFiles) -> float:
    """How long Locust may run before it counts as hung and is stopped."""
    search = capacity_config(config, files)
    run = config.run_time_s
    if search is not None:
        per_step = search.settle_s + search.window_s
        run = math.ceil(search.max_steps() * (per_step + 2))
    wait = config.expect_workers_max_wait + DRAIN_GRACE_S if config.role == MASTER else 0
    return run + STOP_TIMEOUT_S + STARTUP_GRACE_S + wait


# The target and the plan ---------------------------------------------------------------------
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

    # A master's workers read the key from their own environment: the mock takes the same one.
    key = api_key_from(config.api_key) if config.role == MASTER else None
    if config.role == MASTER and not key:
        raise RunError(f"the embedded mock of a master needs the workers' key: set {ENV_API_KEY}")
    print(
        f"load: starting the embedded mock (seeded with {config.seed_history} transactions)", file=sys.stderr
    )
    with EmbeddedMock(seed_history=config.seed_history, api_key=key) as mock:
        yield mock.base_url, mock.api_key


def prepare(
    client: ApiClient, settings: Settings, config: LoadConfig, run_dir: Path
) -> tuple[LoadPlan, Path]:
    """Discover, create and fund the shared users; returns the plan file for Locust."""
    setup_ledger = LedgerWriter(run_dir, label="setup")
    try:
        plan: LoadPlan = build_plan(client, settings, ledger=setup_ledger)
    except Nonconformity as err:  # e.g. a redirect met while preparing: the run cannot be made
        raise RunError(f"cannot prepare the load run: {err.message}") from None
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
            return LoadRun(config, spec, base_url, api_key, client).run()
        finally:
            client.close()


# One run, judged ---------------------------------------------------------------------------
class LoadRun:
    """Prepare, run Locust, and judge what it measured and what the target recorded."""

    def __init__(
        self, config: LoadConfig, spec: SloSpec, base_url: str, api_key: str, client: ApiClient
    ) -> None:
        self.config, self.spec, self.base_url, self.api_key, self.client = (
            config,
            spec,
            base_url,
            api_key,
            client,
        )
        self.redactor = client.redactor
        self.settings = Settings(
            base_url=base_url,
            api_key=api_key,
            settle_timeout=config.settle_timeout,
            settle_deadline_chosen=config.settle_deadline_chosen,
            strict=config.strict,
        )
        run_dir = config.reports / "ledger" / self.settings.run_id
        self.files = ReportFiles(config.reports.resolve(), run_dir.resolve())
        self.phase = "starting"  # what the run is doing, for the line a Ctrl-C prints

    def run(self) -> int:
        """The run's exit status; Ctrl-C at any point still writes the summary (exit 130)."""
        record = self._record()
        try:
            return self._run(record)
        except KeyboardInterrupt:
            record.interrupted = True
            record.notes.append(f"interrupted while {self.phase}")
            write_summary(record, self.files.summary, self.redactor)
            print(f"load: interrupted while {self.phase}; summary: {self.files.summary}", file=sys.stderr)
            return EXIT_INTERRUPTED

    def _run(self, record: RunRecord) -> int:
        self.phase = "preparing: no load was run"
        preflight(self.client)
        print("load: preparing the run (the whitelist, the users and their funds)", file=sys.stderr)
        plan, plan_path = prepare(self.client, self.settings, self.config, self.files.run_dir)
        record.notes.extend(plan.notes)
        self._announce(record)
        self.phase = "running Locust"
        outcome = run_locust(
            locust_command(self.config, self.base_url, self.files),
            locust_env(self.config, self.api_key, self.files, plan_path),
            self.files.log,
            hard_limit=hard_limit(self.config, self.files),
        )
        self._measured(record, outcome)
        contents = read_ledger(self.files.run_dir)
        record.findings, record.advisories = split_findings(contents.findings)
        self._check_made(record, outcome)
        self.phase = "reconciling"
        self._reconcile(record, contents, plan)
        self.phase = "writing the reports"
        self._finish(record)
        return record.exit_code()

    def _record(self) -> RunRecord:
        config = self.config
        return RunRecord(
            target=self.redactor.text(self.base_url),
            scenario=config.scenario,
            users=config.capacity.max_users if config.capacity else config.users,
            spawn_rate=config.spawn_rate,
            run_time_s=0 if config.capacity else config.run_time_s,  # the search decides
            processes=config.processes,
            started_at=datetime.now(UTC),
            slo_spec=self.spec,
            files=self.files.listing(capacity=config.capacity is not None),
            strict=config.strict,
            role=config.role,
        )

    def _announce(self, record: RunRecord) -> None:
        config = self.config
        if config.role == MASTER:
            where = f"{config.master_bind_host}:{config.master_bind_port}"
            how = f"master of {config.expect_workers} workers on {where}"
        else:
            how = f"{config.processes} processes" if config.processes else "one process"
        what = (
            f"capacity search, steps of {config.capacity.step_users} users up to {config.capacity.max_users}"
            if config.capacity
            else f"{config.users} users for {config.run_time_s} s"
        )
        print(
            f"load: {config.scenario} against {record.target}: {what} ({how}); Locust log: {self.files.log}",
            file=sys.stderr,
        )

    def _measured(self, record: RunRecord, outcome: LocustOutcome) -> None:
        """Locust's statistics, the SLO verdict (or the capacity steps), and the workers' account."""
        files = self.files
        record.interrupted = outcome.interrupted
        record.locust_exit_code = outcome.exit_code
        scrub_files([files.log, files.html, *files.reports.glob("locust_*.csv")], [self.api_key])
        if outcome.timed_out:
            record.notes.append("Locust did not stop at the end of its run time and was stopped")
        if not files.stats_json.exists() and outcome.interrupted:
            record.notes.append("interrupted before Locust wrote its statistics")
            return
        if not files.stats_json.exists():
            tail = log_tail(files.log, self.redactor)
            raise RunError(f"Locust produced no statistics (exit code {outcome.exit_code}): {tail}")
        limited = read_rate_limited(files.run_dir, files.failures_csv)
        routes = with_rate_limited(read_locust_stats(files.stats_json), limited)
        named = [r for r in routes if r.name != AGGREGATE]
        record.requests = sum(r.requests for r in named)
        record.failures = sum(r.failures for r in named)
        record.rate_limited = sum(r.rate_limited for r in named)
        record.routes = [
            {"route": r.key, "requests": r.requests, "failures": r.failures, "rate_limited": r.rate_limited}
            for r in named
        ]
        record.task_exceptions = count_exceptions(files.exceptions_csv)
        if self.config.capacity is None:
            record.slo = evaluate(self.spec, routes)
            record.notes.extend(record.slo.notes)
        self._cluster(record)

    def _cluster(self, record: RunRecord) -> None:
        status = read_status(self.files.run_dir)
        if status is None:
            return
        record.cluster = status.to_dict()
        record.degraded = status.degraded
        record.notes.extend(status.notes())

    def _check_made(self, record: RunRecord, outcome: LocustOutcome) -> None:
        locust_failed = outcome.exit_code != 0 and not (outcome.interrupted or outcome.timed_out)
        if (record.requests == 0 and not outcome.interrupted) or locust_failed:
            write_summary(record, self.files.summary, self.redactor)
            reason = "made no requests" if record.requests == 0 else f"exited with code {outcome.exit_code}"
            raise RunError(
                f"the Locust run {reason}: {log_tail(self.files.log, self.redactor)} (see {self.files.log})"
            )

    def _reconcile(self, record: RunRecord, contents: LedgerContents, plan: LoadPlan) -> None:
        print(f"load: reconciling {len({a.user for a in contents.attempts})} users", file=sys.stderr)
        try:
            record.reconciliation = reconcile_run(
                self.client,
                contents,
                plan.brand_token_id,
                settle_timeout=self.config.settle_timeout,
                explicit_deadline=self.config.settle_deadline_chosen,
            )
        except (RunError, Nonconformity) as err:
            write_summary(record, self.files.summary, self.redactor)
            if isinstance(err, Nonconformity):
                raise RunError(f"cannot reconcile the run: {err.message}") from None
            raise

    def _capacity(self, record: RunRecord) -> None:
        search = capacity_config(self.config, self.files)
        if search is None:
            return
        try:
            steps = read_steps(self.files.steps.read_text(encoding="utf-8"))
        except OSError:
            steps = []
        result = CapacityResult(steps, search)
        reasons = [f"the {gate} gate failed" for gate in record.failed_gates() if gate != "slo"]
        if record.degraded:
            reasons.append("a worker was lost: the steps after it measured less load than they asked for")
        write_capacity(
            result, self.files.reports, target=record.target, valid=not reasons, reasons=reasons,
            redactor=self.redactor,
        )  # fmt: skip
        record.capacity = result.to_dict()
        record.capacity_headline = result.headline() + (
            "" if not reasons else " (NOT VALID: see capacity.json)"
        )

    def _finish(self, record: RunRecord) -> None:
        self._capacity(record)
        write_summary(record, self.files.summary, self.redactor)
        for line in render(record):
            print(self.redactor.text(line))
