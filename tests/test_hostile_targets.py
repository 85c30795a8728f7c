"""certify and load against targets that misbehave on the wire: bounded runs, clear verdicts,
and the key never sent anywhere but the target's origin."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from qiibee_conformance.embedded import EmbeddedMock
from tests.certify_helpers import clean_env, describe, run_certify
from tests.hostile import hostile

pytestmark = pytest.mark.slow


def _all_output(result: subprocess.CompletedProcess[str], reports: Path) -> str:
    texts = [result.stdout, result.stderr]
    texts += [p.read_text(errors="replace") for p in reports.rglob("*") if p.is_file()]
    return "\n".join(texts)


def _certify(url: str, key: str, reports: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_certify(
        "--target", url, "--reports", str(reports), "--max-examples", "5", *args,
        cwd=reports.parent, env=clean_env(QIIBEE_API_KEY=key),
    )


def test_certify_redirected_at_once_names_the_location(mock_server: EmbeddedMock, tmp_path: Path) -> None:
    with hostile(mock_server.base_url, "redirect-first") as proxy:
        started = time.monotonic()
        result = _certify(proxy.base_url, mock_server.api_key, tmp_path / "reports")
        took = time.monotonic() - started
        assert not proxy.trap.saw(mock_server.api_key)
    assert result.returncode == 2, describe(result)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and proxy.trap_url in lines[0], describe(result)
    assert "Traceback" not in result.stdout + result.stderr
    assert mock_server.api_key not in _all_output(result, tmp_path / "reports")
    assert took < 60


def test_certify_redirected_later_is_a_finding_and_the_key_stays(
    start_mock: object, tmp_path: Path
) -> None:
    mock = start_mock()  # type: ignore[operator]
    with hostile(mock.base_url, "redirect-later", after=30) as proxy:
        result = _certify(proxy.base_url, mock.api_key, tmp_path / "reports", "--only", "users")
        assert not proxy.trap.saw(mock.api_key)
    assert result.returncode == 1, describe(result)
    assert "307" in result.stdout and proxy.trap_url in _all_output(result, tmp_path / "reports")
    assert "Traceback" not in result.stdout + result.stderr
    assert mock.api_key not in _all_output(result, tmp_path / "reports")


def test_load_redirected_at_once_names_the_location(mock_server: EmbeddedMock, tmp_path: Path) -> None:
    with hostile(mock_server.base_url, "redirect-first") as proxy:
        argv = [
            sys.executable, "-m", "qiibee_conformance", "load", "--reports", str(tmp_path),
            "--target", proxy.base_url, "--run-time", "5s", "--users", "2",
        ]
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=120, check=False,
            env=clean_env(QIIBEE_API_KEY=mock_server.api_key),
        )
        assert not proxy.trap.saw(mock_server.api_key)
    assert result.returncode == 2, describe(result)
    assert proxy.trap_url in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
