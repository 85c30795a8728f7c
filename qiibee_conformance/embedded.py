"""Start the reference mock as a subprocess for runners and tests.

``EmbeddedMock`` picks a free loopback port, runs
``python -m qiibee_conformance mock --host 127.0.0.1 --port P ...`` (key in ``QIIBEE_API_KEY``),
writes its output to a temp
file that cannot fill up, waits until it answers HTTP and stops it on exit
(terminate, then kill). A start failure is a ``RunError`` with the log tail.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from qiibee_conformance.errors import RunError

DEFAULT_BRAND_ID = "demo_brand"
START_DEADLINE = 15.0
STOP_TIMEOUT = 5.0
BIND_RETRIES = 3
_BRAND_RE = re.compile(r"^brand id:\s+(\S+)", re.MULTILINE)


def free_port() -> int:
    """A port the OS reports free on 127.0.0.1 (bind to 0, read, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedMock:
    """Context manager around one mock process; exposes base_url, api_key and brand_id."""

    def __init__(
        self,
        *,
        faults: Iterable[str] = (),
        variants: Iterable[str] = (),
        settle_delay: float | None = None,
        seed_history: int = 0,
        seed_users: int = 0,
        db_path: str | os.PathLike[str] | None = None,
        api_key: str | None = None,
        start_deadline: float = START_DEADLINE,
        access_log: bool = False,
    ) -> None:
        self.faults = list(faults)
        self.variants = list(variants)
        self.settle_delay = settle_delay
        self.seed_history = seed_history
        self.seed_users = seed_users
        self.db_path = str(db_path) if db_path is not None else None
        self.api_key = api_key or "mock-" + secrets.token_hex(12)
        self.start_deadline = start_deadline
        # every request a line in the log (log_text()): who touched what, for tests and benches
        self.access_log = access_log
        self.brand_id = DEFAULT_BRAND_ID
        self.port = 0
        self.base_url = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None

    # ---- lifecycle ----------------------------------------------------------

    def __enter__(self) -> EmbeddedMock:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start and wait until ready; retries on a port taken between pick and bind."""
        last_error: RunError | None = None
        for _ in range(BIND_RETRIES):
            try:
                self._start_once()
                return
            except RunError as err:
                last_error = err
                if "address already in use" not in str(err).lower():
                    raise
        assert last_error is not None
        raise last_error

    def command(self) -> list[str]:
        """The argv used to start the mock (after ``port`` is chosen)."""
        cmd = [
            sys.executable, "-m", "qiibee_conformance", "mock",
            "--host", "127.0.0.1", "--port", str(self.port),
        ]  # the key travels in the environment, not in argv where `ps` shows it
        for name in self.faults:
            cmd += ["--fault", name]
        for name in self.variants:
            cmd += ["--variant", name]
        if self.settle_delay is not None:
            cmd += ["--settle-delay", repr(float(self.settle_delay))]
        if self.seed_history:
            cmd += ["--seed-history", str(self.seed_history)]
        if self.seed_users:
            cmd += ["--seed-users", str(self.seed_users)]
        if self.db_path:
            cmd += ["--db", self.db_path]
        if self.access_log:
            cmd.append("--access-log")
        return cmd

    def _start_once(self) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        fd, name = tempfile.mkstemp(prefix="qiibee-mock-", suffix=".log")
        self._log_path = Path(name)
        env = dict(os.environ)
        env["QIIBEE_API_KEY"] = self.api_key
        env["PYTHONUNBUFFERED"] = "1"
        with os.fdopen(fd, "wb") as log:
            self._proc = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
            )
        try:
            self._wait_ready()
        except RunError:
            self.stop(keep_log=True)
            tail = self.log_tail()
            self._remove_log()
            raise RunError(f"the mock did not start on {self.base_url}: {tail}") from None
        match = _BRAND_RE.search(self.log_text())
        if match:
            self.brand_id = match.group(1)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_deadline
        while time.monotonic() < deadline:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                raise RunError("exited")
            if self._answers():
                return
            time.sleep(0.05)
        raise RunError("timeout")

    def _answers(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1.0)
        try:
            conn.request("GET", "/token-exchange-whitelist", headers={"X-API-KEY": self.api_key})
            return conn.getresponse().status < 500
        except OSError:
            return False
        finally:
            conn.close()

    def stop(self, *, keep_log: bool = False) -> None:
        """Terminate (then kill) the process and reap it; idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT)
        elif proc is not None:
            proc.wait()
        if not keep_log:
            self._remove_log()

    def _remove_log(self) -> None:
        if self._log_path is not None:
            with contextlib.suppress(OSError):
                self._log_path.unlink()
            self._log_path = None

    # ---- introspection --------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_text(self) -> str:
        """Everything the mock printed so far."""
        if self._log_path is None:
            return ""
        try:
            return self._log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 8) -> str:
        """The last lines of the log, joined on one line for a RunError message."""
        text = [ln.strip() for ln in self.log_text().splitlines() if ln.strip()]
        return " | ".join(text[-lines:]) or "(no output)"

    def url(self, path: str) -> str:
        return self.base_url + path
