"""Custom Locust arguments and hooks of the qiibee scenarios.

Imported only inside the Locust process (by ``load/locustfile.py``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from locust.env import Environment
from locust.runners import WorkerRunner

from qiibee_conformance.loadtest import cluster
from qiibee_conformance.loadtest.common import (
    DEFAULT_SCENARIO,
    ENV_API_KEY,
    ENV_CAPACITY,
    ENV_LEDGER_DIR,
    ENV_SCENARIO,
    SCENARIOS,
    count_rate_limited,
    selected_scenario,
    write_rate_limited,
)
from qiibee_conformance.loadtest.context import close_context
from qiibee_conformance.loadtest.page_decoding import DEFAULT_MEMO_PAGES


def current_scenario() -> str:
    """The scenario of this Locust process: ``--scenario`` on its command line, else the environment."""
    try:
        return selected_scenario(sys.argv[1:])
    except ValueError as err:
        raise SystemExit(f"qiibee load: {err}") from None


def is_worker(argv: list[str] | None = None, env: dict[str, str] | None = None) -> bool:
    """Whether this Locust process is a worker (``--worker``, or Locust's ``$LOCUST_MODE_WORKER``)."""
    argv = sys.argv[1:] if argv is None else argv
    env = dict(os.environ) if env is None else env
    return "--worker" in argv or env.get("LOCUST_MODE_WORKER", "").lower() in ("1", "true")


def capacity_search() -> bool:
    """Whether ``qiibee-conformance load --find-capacity`` started this Locust process."""
    return bool(os.environ.get(ENV_CAPACITY))


def add_arguments(parser: Any) -> None:
    """Listener for ``events.init_command_line_parser``: our options, in ``--help`` and the web UI."""
    parser.add_argument(
        "--scenario",
        choices=SCENARIOS,
        default=os.environ.get(ENV_SCENARIO, DEFAULT_SCENARIO),
        help="load scenario (chosen when the locustfile is imported; also $QIIBEE_SCENARIO)",
    )
    parser.add_argument(
        "--api-key",
        # Empty by default, read from the environment by each process when it starts: a master
        # pushes its custom options to its workers, and the key must never travel that way.
        default="",
        is_secret=True,
        help=f"API key of the target (default: ${ENV_API_KEY})",
    )
    parser.add_argument(
        "--ledger-dir",
        default=os.environ.get(ENV_LEDGER_DIR, ""),
        include_in_web_ui=False,
        help="directory for the JSONL ledger of money moves (reconciled by `qiibee-conformance load`)",
    )
    parser.add_argument(
        "--think-time",
        type=float,
        default=0.1,
        help="maximum random pause between tasks, seconds",
    )
    parser.add_argument(
        "--history-filters",
        choices=("random", "none"),
        default="random",
        help="history walks with random filters, or plain pagination",
    )
    parser.add_argument(
        "--page-memo",
        type=int,
        default=DEFAULT_MEMO_PAGES,
        help="history pages remembered decoded per URL, reused while the target sends the same "
        "bytes (0: decode every page)",
    )


def on_init(environment: Environment, **_kwargs: Any) -> None:
    """Close the ledger cleanly when the process quits, leave the rate-limited counts, and join
    the master and its workers into one run (``cluster.py``).

    Locust calls the quitting listeners last registered first: the cluster's (a master drains
    its workers, a worker hands over its ledger) run before the counts and the files close."""
    environment.events.quitting.add_listener(lambda **_: close_context())  # type: ignore[no-untyped-call]
    environment.events.quitting.add_listener(  # type: ignore[no-untyped-call]
        lambda **_: save_rate_limited(environment)
    )
    cluster.attach(environment)


def save_rate_limited(environment: Environment) -> None:
    """Write the run's rate-limited failures per route to the ledger directory, from the final
    statistics (every user has stopped when Locust quits). Locust's failures CSV cannot serve:
    it is a snapshot rewritten every second, not at the end. A worker's statistics go to its
    master, which writes them; a run without a ledger directory writes nothing."""
    directory = getattr(environment.parsed_options, "ledger_dir", "") or os.environ.get(ENV_LEDGER_DIR, "")
    if not directory or isinstance(environment.runner, WorkerRunner):
        return
    errors = environment.runner.stats.errors.values() if environment.runner is not None else []
    entries = ((e.method, e.name, e.parse_error(e.error), e.occurrences) for e in errors)
    write_rate_limited(Path(directory), count_rate_limited(entries))
