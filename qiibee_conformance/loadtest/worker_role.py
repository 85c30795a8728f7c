"""``qiibee-conformance load --role worker``: one Locust worker of a master elsewhere.

The worker runs whatever its master asks (users, scenario, target, plan) and sends its
ledger back to it; the master decides the verdict. The key comes from ``$QIIBEE_API_KEY``
only: never the command line (``ps`` shows it), never the master (Locust's messages are not
encrypted). Locust's output is echoed to stderr with the key redacted, and kept in
``--reports``/``locust-worker-<host>-<pid>.log``.

Exit codes: 0 the master ended the run; 2 the worker could not run (no key, no master
reached, Locust failed); 130 interrupted (Ctrl-C stops the users, and the worker hands its
ledger over to the master before it quits).
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from qiibee_conformance.errors import RunError
from qiibee_conformance.loadtest.common import ENV_API_KEY
from qiibee_conformance.loadtest.locust_process import log_tail, run_locust
from qiibee_conformance.loadtest.report import EXIT_INTERRUPTED
from qiibee_conformance.paths import locustfile_path
from qiibee_conformance.redact import Redactor, scrub_files
from qiibee_conformance.settings import API_KEY_ENV


@dataclass(frozen=True)
class WorkerConfig:
    master_host: str
    master_port: int
    reports: Path


def worker_command(config: WorkerConfig) -> list[str]:
    return [
        sys.executable, "-m", "locust", "-f", str(locustfile_path()), "--worker",
        "--master-host", config.master_host, "--master-port", str(config.master_port),
        "--exit-code-on-error", "0",
    ]  # fmt: skip


def worker_env(api_key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    env.update({ENV_API_KEY: api_key, "PYTHONUNBUFFERED": "1"})
    return env


def run_worker(config: WorkerConfig) -> int:
    api_key = os.environ.get(API_KEY_ENV)
    if not api_key:
        raise RunError(f"a worker reads the API key from ${API_KEY_ENV} only, and it is not set")
    redactor = Redactor([api_key])
    log = config.reports.resolve() / f"locust-worker-{socket.gethostname()}-{os.getpid()}.log"
    print(
        f"load: worker of the Locust master at {config.master_host}:{config.master_port} (log: {log})",
        file=sys.stderr,
    )
    outcome = run_locust(worker_command(config), worker_env(api_key), log, hard_limit=None, echo=redactor)
    scrub_files([log], [api_key])
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    if outcome.exit_code != 0:
        raise RunError(f"the Locust worker exited with code {outcome.exit_code}: {log_tail(log, redactor)}")
    print("load: the master ended the run; it writes the reports and the verdict", file=sys.stderr)
    return 0
