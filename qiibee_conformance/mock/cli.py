"""Serve the stateful reference mock of the qiibee Users and Points Exchange APIs.

It follows every documented rule; ``--fault NAME`` breaks exactly one rule and
``--variant NAME`` picks the other tolerated choice (see --list-faults). The API
key defaults to $QIIBEE_API_KEY or the demo key ``sandbox-demo-key``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qiibee_conformance.mock.config import MockConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    parser.add_argument(
        "--api-key", default=None, help="accepted X-API-KEY (default $QIIBEE_API_KEY or sandbox-demo-key)"
    )
    parser.add_argument(
        "--db", default=None, metavar="PATH", help="SQLite file to keep state in (default: in memory)"
    )
    parser.add_argument("--seed-users", type=int, default=0, metavar="N", help="create N fake users at start")
    parser.add_argument("--seed-history", type=int, default=0, metavar="N",
                        help="bulk-insert N historical transactions at start (for load and benchmarks)")
    parser.add_argument("--settle-delay", type=float, default=None, metavar="SECONDS",
                        help="seconds before a queued exchange settles (default 0.2)")
    parser.add_argument(
        "--fault", action="append", default=[], metavar="NAME", help="break one rule (repeatable)"
    )
    parser.add_argument("--variant", action="append", default=[], metavar="NAME",
                        help="pick the other tolerated choice (repeatable; all-alternatives for all)")
    parser.add_argument("--list-faults", action="store_true", help="list fault and variant names and exit")
    parser.add_argument(
        "--list-providers", action="store_true", help="list membership number formats and exit"
    )
    parser.add_argument("--access-log", action="store_true", help="log every request")


def _ignore_signal(signum: int, frame: object) -> None:
    """Placeholder handler: the server has already stopped when this runs."""


def run(args: argparse.Namespace) -> int:
    """Serve until stopped; a start-up problem is one line on stderr and exit 2.

    The error is printed here (not by the suite's dispatcher) because the mock
    imports nothing of the suite, not even its ``RunError``.
    """
    import sys

    from qiibee_conformance.mock.errors import EXIT_USAGE, MockUsageError

    try:
        return _serve(args)
    except MockUsageError as err:
        print(f"qiibee-conformance mock: error: {err}", file=sys.stderr)
        return EXIT_USAGE


def _config(args: argparse.Namespace) -> MockConfig:
    """The mock's configuration from the command line; MockUsageError for a bad value."""
    import math
    import os

    from qiibee_conformance.mock.config import DEFAULT_API_KEY, DEFAULT_SETTLE_DELAY, MockConfig
    from qiibee_conformance.mock.errors import MockUsageError
    from qiibee_conformance.mock.faults import validate_faults
    from qiibee_conformance.mock.variants import validate_variants

    faults = validate_faults(args.fault)
    variants = validate_variants(args.variant)
    settle = DEFAULT_SETTLE_DELAY if args.settle_delay is None else args.settle_delay
    if not math.isfinite(settle) or settle < 0:
        raise MockUsageError("--settle-delay must be a non-negative number of seconds")
    if args.seed_users < 0 or args.seed_history < 0:
        raise MockUsageError("--seed-users and --seed-history must not be negative")
    if not 0 < args.port < 65536:
        raise MockUsageError("--port must be between 1 and 65535")
    api_key = args.api_key or os.environ.get("QIIBEE_API_KEY") or DEFAULT_API_KEY
    return MockConfig(
        api_key=api_key, db_path=args.db, seed_users=args.seed_users, settle_delay=settle,
        faults=faults, variants=variants, seed_history=args.seed_history,
    )


def _serve(args: argparse.Namespace) -> int:
    import logging
    import signal
    import sys

    from qiibee_conformance.mock.banner import banner, providers_text
    from qiibee_conformance.mock.errors import MockUsageError
    from qiibee_conformance.mock.faults import describe_faults
    from qiibee_conformance.mock.variants import describe_variants

    if args.list_faults:
        print("faults (--fault NAME):\n" + describe_faults())
        print("\nvariants (--variant NAME):\n" + describe_variants())
        return 0
    if args.list_providers:
        print("membership number formats:\n" + providers_text())
        return 0
    config = _config(args)

    import sqlite3

    import uvicorn

    from qiibee_conformance.mock.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app = create_app(config)
    except sqlite3.Error as err:
        raise MockUsageError(f"cannot open database {args.db!r}: {err}") from None
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(banner(config, f"http://{host}:{args.port}"), flush=True)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=args.host, port=args.port, loop="auto", http="auto", lifespan="on",
            access_log=args.access_log, log_level="info" if args.access_log else "warning",
            timeout_graceful_shutdown=2,
        )
    )
    # uvicorn re-raises the stop signal after its graceful shutdown; with these no-op
    # handlers Ctrl-C and SIGTERM end the command normally (exit 0) instead of killing it.
    previous = {sig: signal.signal(sig, _ignore_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise MockUsageError(f"could not serve on {args.host}:{args.port} (see the log above)") from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not server.started:
        raise MockUsageError(f"could not serve on {args.host}:{args.port} (see the log above)")
    print("qiibee reference mock stopped", file=sys.stderr, flush=True)
    return 0
