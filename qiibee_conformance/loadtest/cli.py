"""Load-test a target with Locust, gate on SLOs, and reconcile every balance it touched.

With no --target the embedded reference mock is started, seeded with a deep
history. Exit codes: 0 every gate held (advisories, warn-level readings, are
reported without failing the run); 1 an SLO was breached, reconciliation
failed, the target broke a documented rule under load, or (--strict) an
advisory was filed (the summary says which); 2 the run could not be made, or
was degraded (a worker was lost); 130 interrupted.

Several machines: one master (it prepares, judges and writes every report) and
its workers (the key from $QIIBEE_API_KEY):
    qiibee-conformance load --role master --expect-workers 2 --target URL ...
    qiibee-conformance load --role worker --master-host MASTER

How much the target takes before an SLO breaks:
    qiibee-conformance load --find-capacity [--max-users N] [--step-users N] [--step-time 30s]

Plain Locust (web UI and every Locust flag) works too:
    locust -f load/locustfile.py --host URL --scenario mixed
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from qiibee_conformance.errors import RunError
from qiibee_conformance.loadtest.common import DEFAULT_SCENARIO, ENV_API_KEY, SCENARIOS, parse_timespan
from qiibee_conformance.settings import DEFAULT_SETTLE_TIMEOUT

if TYPE_CHECKING:
    from qiibee_conformance.loadtest.runner import CapacitySettings

ROLES = ("master", "worker")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target", default=None, help="base URL of the API (default: start the embedded mock)"
    )
    parser.add_argument("--api-key", default=None, help=f"API key of the target (default: ${ENV_API_KEY})")
    parser.add_argument("--scenario", choices=SCENARIOS, default=DEFAULT_SCENARIO, help="load scenario")
    parser.add_argument("--users", type=int, default=10, help="peak number of concurrent Locust users")
    parser.add_argument("--spawn-rate", type=float, default=5.0, help="users started per second")
    parser.add_argument(
        "--run-time", default="1m", help="how long the load runs (30s, 1m, 1h30m; default 1m)"
    )
    parser.add_argument(
        "--slo", default=None, help="SLO budgets, TOML (default: the project's load/slo.toml)"
    )
    parser.add_argument("--reports", default="reports", help="directory for the reports (default: reports/)")
    parser.add_argument(
        "--processes",
        type=int,
        default=None,
        help="Locust worker processes on this machine (-1: one per core)",
    )
    parser.add_argument(
        "--allow-non-sandbox",
        action="store_true",
        help="allow a target that is neither loopback nor sandbox-like (this run writes data)",
    )
    parser.add_argument(
        "--settle-timeout",
        type=float,
        default=None,
        help=f"seconds an accepted exchange may stay pending (default {DEFAULT_SETTLE_TIMEOUT:g}: past it an "
        "advisory; past a deadline given here a reconciliation failure)",
    )
    parser.add_argument(
        "--seed-history", type=int, default=20000, help="transactions seeded into the embedded mock"
    )
    parser.add_argument("--think-time", type=float, default=0.1, help="maximum pause between tasks, seconds")
    parser.add_argument(
        "--strict", action="store_true", help="advisories (warn-level readings) fail the run too"
    )
    _add_distribution(parser.add_argument_group("several machines (Locust's master and workers)"))
    _add_capacity(parser.add_argument_group("capacity search"))


def _add_distribution(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--role",
        choices=ROLES,
        default=None,
        help="master: prepare, wait for the workers, judge and report; worker: run what a master asks",
    )
    group.add_argument("--expect-workers", type=int, default=None, help="master: workers to wait for")
    group.add_argument(
        "--expect-workers-max-wait", type=int, default=300, help="master: seconds to wait for them (300)"
    )
    group.add_argument("--master-bind-host", default="*", help="master: interface the workers reach (*)")
    group.add_argument("--master-bind-port", type=int, default=5557, help="master: port the workers reach")
    group.add_argument("--master-host", default=None, help="worker: the master's host")
    group.add_argument("--master-port", type=int, default=5557, help="worker: the master's port (5557)")


def _add_capacity(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--find-capacity",
        action="store_true",
        help="step the users up while every SLO holds, then narrow down on the first step that breaks one",
    )
    group.add_argument("--max-users", type=int, default=200, help="capacity: highest user count (200)")
    group.add_argument("--step-users", type=int, default=10, help="capacity: users added per step (10)")
    group.add_argument("--step-time", default="30s", help="capacity: how long each step holds (30s)")


def _slo_path(value: str | None) -> Path:
    if value:
        return Path(value)
    from qiibee_conformance.paths import data_dir

    try:
        return data_dir("load") / "slo.toml"
    except FileNotFoundError as err:
        raise RunError(str(err)) from None


def _timespan(text: str, option: str) -> int:
    try:
        seconds = parse_timespan(text)
    except ValueError as err:
        raise RunError(str(err)) from None
    if seconds < 1:
        raise RunError(f"{option} must be at least 1 second")
    return seconds


def _check_common(args: argparse.Namespace) -> None:
    if args.users < 1 or args.spawn_rate <= 0:
        raise RunError("--users must be at least 1 and --spawn-rate above 0")
    if args.processes is not None and (args.processes == 0 or args.processes < -1):
        raise RunError("--processes must be a positive number of processes, or -1 for one per core")
    if args.think_time < 0 or args.seed_history < 0:
        raise RunError("--think-time and --seed-history must be at least 0")
    if args.role == "master" and (args.expect_workers is None or args.expect_workers < 1):
        raise RunError("--role master needs --expect-workers N (at least 1)")
    if args.role is not None and args.processes:
        raise RunError("--processes is for one machine; with --role the workers are separate commands")
    if args.role != "master" and args.expect_workers is not None:
        raise RunError("--expect-workers goes with --role master")


def _capacity(args: argparse.Namespace) -> CapacitySettings | None:
    from qiibee_conformance.loadtest.runner import CapacitySettings

    if not args.find_capacity:
        return None
    step_time = _timespan(args.step_time, "--step-time")
    if args.step_users < 1 or args.max_users < args.step_users or step_time < 3:
        raise RunError(
            "--step-users must be at least 1, --max-users at least --step-users, --step-time 3s or more"
        )
    return CapacitySettings(args.step_users, args.max_users, step_time)


def run(args: argparse.Namespace) -> int:
    if args.role == "worker":
        return _run_worker(args)
    run_time = _timespan(args.run_time, "--run-time")
    _check_common(args)
    chosen = args.settle_timeout is not None
    settle_timeout = args.settle_timeout if chosen else DEFAULT_SETTLE_TIMEOUT
    if settle_timeout <= 0:
        raise RunError("--settle-timeout must be above 0")
    from qiibee_conformance.loadtest.runner import LoadConfig, run_load

    return run_load(
        LoadConfig(
            target=args.target,
            api_key=args.api_key,
            scenario=args.scenario,
            users=args.users,
            spawn_rate=args.spawn_rate,
            run_time_s=run_time,
            slo_path=_slo_path(args.slo),
            reports=Path(args.reports),
            processes=args.processes,
            allow_non_sandbox=args.allow_non_sandbox,
            settle_timeout=settle_timeout,
            settle_deadline_chosen=chosen,
            seed_history=args.seed_history,
            think_time=args.think_time,
            strict=args.strict,
            role=args.role or "single",
            expect_workers=args.expect_workers or 0,
            master_bind_host=args.master_bind_host,
            master_bind_port=args.master_bind_port,
            expect_workers_max_wait=args.expect_workers_max_wait,
            capacity=_capacity(args),
        )
    )


def _run_worker(args: argparse.Namespace) -> int:
    if not args.master_host:
        raise RunError("--role worker needs --master-host HOST")
    if args.api_key:
        raise RunError(f"a worker reads the API key from ${ENV_API_KEY} only, never the command line")
    if args.find_capacity or args.processes or args.expect_workers is not None:
        raise RunError("a worker runs what its master asks: give --find-capacity and the rest to the master")
    from qiibee_conformance.loadtest.worker_role import WorkerConfig, run_worker

    return run_worker(WorkerConfig(args.master_host, args.master_port, Path(args.reports)))
