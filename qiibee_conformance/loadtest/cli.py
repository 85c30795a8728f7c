"""Load-test a target with Locust, gate on SLOs, and reconcile every balance it touched.

With no --target the embedded reference mock is started, seeded with a deep
history. Exit codes: 0 every gate held (advisories, warn-level readings, are
reported without failing the run); 1 an SLO was breached, reconciliation
failed, the target broke a documented rule under load, or (--strict) an
advisory was filed (the summary says which); 2 the run could not be made.

Plain Locust (web UI and every Locust flag) works too:
    locust -f load/locustfile.py --host URL --scenario mixed
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qiibee_conformance.errors import RunError
from qiibee_conformance.loadtest.common import DEFAULT_SCENARIO, ENV_API_KEY, SCENARIOS, parse_timespan
from qiibee_conformance.settings import DEFAULT_SETTLE_TIMEOUT


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


def _slo_path(value: str | None) -> Path:
    if value:
        return Path(value)
    from qiibee_conformance.paths import data_dir

    try:
        return data_dir("load") / "slo.toml"
    except FileNotFoundError as err:
        raise RunError(str(err)) from None


def run(args: argparse.Namespace) -> int:
    try:
        run_time = parse_timespan(args.run_time)
    except ValueError as err:
        raise RunError(str(err)) from None
    if run_time < 1:
        raise RunError("--run-time must be at least 1 second")
    if args.users < 1 or args.spawn_rate <= 0:
        raise RunError("--users must be at least 1 and --spawn-rate above 0")
    if args.processes is not None and (args.processes == 0 or args.processes < -1):
        raise RunError("--processes must be a positive number of processes, or -1 for one per core")
    chosen = args.settle_timeout is not None
    settle_timeout = args.settle_timeout if chosen else DEFAULT_SETTLE_TIMEOUT
    if settle_timeout <= 0 or args.think_time < 0 or args.seed_history < 0:
        raise RunError("--settle-timeout must be above 0; --think-time and --seed-history at least 0")
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
        )
    )
