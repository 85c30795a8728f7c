"""Running ``qiibee-conformance certify`` and plain ``pytest contracts`` as a user would: a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from qiibee_conformance.paths import contracts_dir

CERTIFY_TIMEOUT = 300


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without the outer pytest's (xdist worker ids, addopts), without a key, and
    without a CI job's summary file (a certify run under test must not write to the real job's)."""
    dropped = {"COV_CORE_SOURCE", "COV_CORE_CONFIG", "GITHUB_STEP_SUMMARY"}
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "QIIBEE_")) and k not in dropped
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run in its own process group, so a timeout also kills the mock a certify run started."""
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=CERTIFY_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail(f"timed out after {CERTIFY_TIMEOUT}s: {command[2:]}\n{stdout[-4000:]}\n{stderr[-2000:]}")
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


def run_certify(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-m", "qiibee_conformance", "certify", *args], cwd, env or clean_env())


def run_plain_pytest(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", str(contracts_dir()), "-p", "no:cacheprovider", *args]
    return _run(command, cwd, clean_env())


def load_report(reports: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((reports / "certification.json").read_text(encoding="utf-8"))
    return document


def requirement_status(document: dict[str, Any]) -> dict[str, str]:
    return {r["id"]: r["status"] for r in document["requirements"]}


def describe(result: subprocess.CompletedProcess[str]) -> str:
    """What to show when an assertion on a run fails: its exit code and the tail of its output."""
    return (
        f"exit {result.returncode}\n--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-3000:]}"
    )
