"""One Locust process, started and stopped from the parent (which never imports Locust).

Locust runs as ``python -m locust ...`` in a session of its own, so that ``--processes``
works and gevent's monkey-patching never reaches the parent. Ctrl-C in the parent is
forwarded once as SIGINT, which makes Locust stop its users (a master first drains its
workers) and still write its reports; a second Ctrl-C kills the session. Its output goes
to a log file; a worker's is also echoed, redacted, to the parent's stderr.
"""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from qiibee_conformance.redact import Redactor

SIGINT_GRACE_S = 30  # after SIGINT, time to drain the workers and write the reports
TERM_GRACE_S = 10


@dataclass(frozen=True)
class LocustOutcome:
    exit_code: int
    interrupted: bool
    timed_out: bool


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    # The Locust session we started (master and its forked workers); never anything else.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _wait(proc: subprocess.Popen[bytes], timeout: float | None) -> int | None:
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


def _pump(source: IO[bytes], log: IO[bytes], echo: Redactor) -> None:
    """Copy the child's output to the log, and each line, redacted, to stderr."""
    for line in iter(source.readline, b""):
        log.write(line)
        log.flush()
        sys.stderr.write(echo.text(line.decode("utf-8", errors="replace")))
        sys.stderr.flush()


def _start(
    cmd: list[str], env: dict[str, str], log: IO[bytes], echo: Redactor | None
) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=log if echo is None else subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    if echo is not None and proc.stdout is not None:
        threading.Thread(target=_pump, args=(proc.stdout, log, echo), daemon=True).start()
    return proc


def run_locust(
    cmd: list[str],
    env: dict[str, str],
    log_path: Path,
    hard_limit: float | None,
    echo: Redactor | None = None,
) -> LocustOutcome:
    """Run Locust to its end (or ``hard_limit`` seconds, then stop it); Ctrl-C stops it cleanly."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        proc = _start(cmd, env, log, echo)
        try:
            code = _wait(proc, hard_limit)
            if code is not None:
                return LocustOutcome(code, interrupted=False, timed_out=False)
            return LocustOutcome(_stop(proc), interrupted=False, timed_out=True)
        except KeyboardInterrupt:
            return LocustOutcome(_interrupt(proc), interrupted=True, timed_out=False)
        finally:
            if proc.poll() is None:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()


def _interrupt(proc: subprocess.Popen[bytes]) -> int:
    print(
        "load: interrupted; stopping Locust and writing the reports (Ctrl-C again to abort)",
        file=sys.stderr,
    )
    try:
        return _stop(proc)
    except KeyboardInterrupt:
        _signal_group(proc, signal.SIGKILL)
        proc.wait()
        raise


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
