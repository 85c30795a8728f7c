"""Ctrl-C stops ``certify`` and ``load`` within seconds in every phase, reports written, exit 130.

Each test waits for the line a phase starts with, and makes that phase long on purpose (a
target 0.5 s away while users are prepared, a mock that settles after a minute), so the
SIGINT lands in the phase the test names, not wherever the run happened to be.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from qiibee_conformance.embedded import EmbeddedMock
from tests.certify_helpers import clean_env
from tests.hostile import hostile

pytestmark = pytest.mark.slow

# From the SIGINT to the exit: "within seconds".
STOP_WITHIN = 15.0
PHASE_DEADLINE = 120.0


@dataclass
class Interrupted:
    exit_code: int
    output: str
    stopped_in: float  # seconds from the SIGINT to the exit


def interrupt_at(argv: list[str], marker: str, key: str, *, after: float = 0.0) -> Interrupted:
    """Run ``argv``; once a line containing ``marker`` is printed (and ``after`` seconds more),
    send SIGINT and wait for the exit."""
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=clean_env(QIIBEE_API_KEY=key)
    )
    lines: list[str] = []
    seen = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if marker in line:
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert seen.wait(PHASE_DEADLINE), f"never printed {marker!r}:\n{''.join(lines)}"
        time.sleep(after)
        assert proc.poll() is None, f"ended before the SIGINT:\n{''.join(lines)}"
        os.kill(proc.pid, signal.SIGINT)
        sent = time.monotonic()
        code = proc.wait(timeout=90)
        stopped_in = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
    return Interrupted(code, "".join(lines), stopped_in)


def assert_stopped(result: Interrupted, key: str) -> None:
    assert result.exit_code == 130, result.output[-4000:]
    assert result.stopped_in < STOP_WITHIN, f"{result.stopped_in:.1f} s after the SIGINT"
    assert "Traceback" not in result.output and key not in result.output, result.output[-4000:]


@contextmanager
def distant(mock: EmbeddedMock, delay: float) -> Iterator[str]:
    with hostile(mock.base_url, "latency", delay=delay) as proxy:
        yield proxy.base_url


# certify ------------------------------------------------------------------------------------------


def _command(name: str, url: str, reports: Path, *args: str) -> list[str]:
    """``qiibee-conformance NAME`` against ``url``, its reports in ``reports``."""
    tool = [sys.executable, "-m", "qiibee_conformance", name]
    return [*tool, "--target", url, "--reports", str(reports), *args]


def _certify(url: str, reports: Path, *args: str) -> list[str]:
    return _command("certify", url, reports, *args)


def _report(path: Path) -> dict[str, object]:
    document: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return document


def _certify_report(reports: Path) -> dict[str, object]:
    return _report(reports / "certification.json")


def test_certify_stopped_while_preparing(start_mock: Callable[..., EmbeddedMock], tmp_path: Path) -> None:
    """Prerequisites against a target 0.5 s away take seconds: the SIGINT lands there."""
    mock = start_mock()
    with distant(mock, 0.5) as url:
        result = interrupt_at(_certify(url, tmp_path), "collected", mock.api_key)
    assert_stopped(result, mock.api_key)
    assert _certify_report(tmp_path)["verdict"] == "INCOMPLETE"


def test_certify_stopped_while_fuzzing_and_checking(
    start_mock: Callable[..., EmbeddedMock], tmp_path: Path
) -> None:
    """A whole run against a distant target takes a dozen seconds: stopped a few seconds in,
    while the workers fuzz and the checks run."""
    mock = start_mock()
    with distant(mock, 0.1) as url:
        result = interrupt_at(_certify(url, tmp_path), "collected", mock.api_key, after=4.0)
    assert_stopped(result, mock.api_key)
    report = _certify_report(tmp_path)
    assert report["verdict"] == "INCOMPLETE"
    # the property tests were cut off mid-run: not run, never "verified"
    statuses = {r["id"]: r["status"] for r in report["requirements"]}  # type: ignore[attr-defined]
    assert statuses["SCH-01"] == "not-run", statuses


def test_certify_stopped_while_waiting_for_settlement(
    start_mock: Callable[..., EmbeddedMock], tmp_path: Path
) -> None:
    """Exchanges that settle after a minute: the checks are waiting when the SIGINT comes."""
    mock = start_mock(settle_delay=60)
    argv = _certify(mock.base_url, tmp_path, "--only", "settlement", "--settle-timeout", "120")
    result = interrupt_at(argv, "collected", mock.api_key, after=4.0)
    assert_stopped(result, mock.api_key)
    assert _certify_report(tmp_path)["verdict"] == "INCOMPLETE"


# load ---------------------------------------------------------------------------------------------


def _load(url: str, reports: Path, *args: str) -> list[str]:
    return _command("load", url, reports, *args)


def _load_summary(reports: Path) -> dict[str, object]:
    return _report(reports / "load-summary.json")


def test_load_stopped_while_preparing(start_mock: Callable[..., EmbeddedMock], tmp_path: Path) -> None:
    mock = start_mock()
    with distant(mock, 0.5) as url:
        result = interrupt_at(_load(url, tmp_path, "--run-time", "30s"), "load: preparing", mock.api_key)
    assert_stopped(result, mock.api_key)
    summary = _load_summary(tmp_path)
    assert summary["verdict"] == "interrupted" and summary["requests"] == {
        "total": 0, "failures": 0, "rate_limited": 0, "routes": []
    }  # fmt: skip


def test_load_stopped_while_locust_starts(start_mock: Callable[..., EmbeddedMock], tmp_path: Path) -> None:
    mock = start_mock()
    result = interrupt_at(_load(mock.base_url, tmp_path, "--run-time", "60s"), "Locust log:", mock.api_key)
    assert_stopped(result, mock.api_key)
    assert _load_summary(tmp_path)["verdict"] == "interrupted"


def test_load_stopped_while_reconciling(start_mock: Callable[..., EmbeddedMock], tmp_path: Path) -> None:
    """Exchanges that settle after a minute: reconciliation is waiting when the SIGINT comes."""
    mock = start_mock(settle_delay=60)
    argv = _load(
        mock.base_url, tmp_path, "--scenario", "exchange-burst", "--run-time", "3s", "--users", "2",
        "--settle-timeout", "120",
    )  # fmt: skip
    result = interrupt_at(argv, "load: reconciling", mock.api_key, after=1.0)
    assert_stopped(result, mock.api_key)
    summary = _load_summary(tmp_path)
    assert summary["verdict"] == "interrupted"
    reconciliation = summary["gates"]["reconciliation"]  # type: ignore[index]
    assert reconciliation["interrupted"] is True
