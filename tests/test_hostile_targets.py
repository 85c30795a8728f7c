"""certify and load against targets that misbehave on the wire: bounded runs, clear verdicts,
and the key never sent anywhere but the target's origin."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qiibee_conformance.embedded import EmbeddedMock
from tests.certify_helpers import clean_env, describe, load_report, run_certify
from tests.hostile import hostile

pytestmark = pytest.mark.slow


def _all_output(result: subprocess.CompletedProcess[str], reports: Path) -> str:
    texts = [result.stdout, result.stderr]
    texts += [p.read_text(errors="replace") for p in reports.rglob("*") if p.is_file()]
    return "\n".join(texts)


def _certify(url: str, key: str, reports: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_certify(
        "--target",
        url,
        "--reports",
        str(reports),
        "--max-examples",
        "5",
        *args,
        cwd=reports.parent,
        env=clean_env(QIIBEE_API_KEY=key),
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


def test_certify_redirected_later_is_a_finding_and_the_key_stays(start_mock: object, tmp_path: Path) -> None:
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
            sys.executable,
            "-m",
            "qiibee_conformance",
            "load",
            "--reports",
            str(tmp_path),
            "--target",
            proxy.base_url,
            "--run-time",
            "5s",
            "--users",
            "2",
        ]
        result = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=clean_env(QIIBEE_API_KEY=mock_server.api_key),
        )
        assert not proxy.trap.saw(mock_server.api_key)
    assert result.returncode == 2, describe(result)
    assert proxy.trap_url in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def _one_line_exit_2(result: subprocess.CompletedProcess[str], key: str, reports: Path) -> str:
    """The run could not be made: exit 2, one line on stderr, no traceback, no key anywhere."""
    assert result.returncode == 2, describe(result)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, describe(result)
    assert "Traceback" not in result.stdout + result.stderr
    assert key not in _all_output(result, reports)
    return lines[0]


# mode -> what the one line says. Each is met on the first request, before anything is fuzzed.
REFUSING_TARGETS = {
    "html-500": "HTTP 500",
    "garbage-200": "no JSON",
    "reset": "connection",
    "reject-key": "API key rejected",
    "unavailable": "HTTP 503",
    "unavailable-retry-after": "503",
}


@pytest.mark.parametrize("mode", sorted(REFUSING_TARGETS))
def test_certify_against_a_target_that_answers_nothing_useful_is_exit_2(
    mock_server: EmbeddedMock, tmp_path: Path, mode: str
) -> None:
    with hostile(mock_server.base_url, mode) as proxy:
        started = time.monotonic()
        result = _certify(proxy.base_url, mock_server.api_key, tmp_path / "reports")
        took = time.monotonic() - started
    line = _one_line_exit_2(result, mock_server.api_key, tmp_path / "reports")
    assert REFUSING_TARGETS[mode].lower() in line.lower(), line
    assert took < 90, f"{mode}: {took:.0f} s"


def _config(tmp_path: Path, **values: float) -> str:
    path = tmp_path / "qiibee.toml"
    path.write_text("".join(f"{name} = {value}\n" for name, value in values.items()), encoding="utf-8")
    return str(path)


def test_certify_with_a_hanging_endpoint_reports_it_and_goes_on(start_mock: object, tmp_path: Path) -> None:
    """GET .../memberships never answers: a finding for what needed it, the rest verified."""
    mock = start_mock()  # type: ignore[operator]
    config = _config(tmp_path, request_timeout=3)
    with hostile(mock.base_url, "hang") as proxy:
        started = time.monotonic()
        result = _certify(
            proxy.base_url,
            mock.api_key,
            tmp_path / "reports",
            "--config",
            config,
            "--only",
            "users",
            "memberships",
        )
        took = time.monotonic() - started
    assert result.returncode == 1, describe(result)
    report = load_report(tmp_path / "reports")
    statuses = {r["id"]: r["status"] for r in report["requirements"] if r["status"] != "not-run"}
    assert statuses["MEM-02"] in ("failed", "untestable"), statuses
    assert statuses["USR-01"] == "verified" and statuses["MEM-01"] != "not-run", statuses
    assert "no answer" in result.stdout.lower(), describe(result)
    assert "Traceback" not in result.stdout + result.stderr
    assert mock.api_key not in _all_output(result, tmp_path / "reports")
    assert took < 240, f"{took:.0f} s"


def test_certify_with_a_huge_body_cuts_it_off_and_stays_small(start_mock: object, tmp_path: Path) -> None:
    """GET .../balances streams 200 MB: cut at the cap, reported, memory bounded."""
    mock = start_mock()  # type: ignore[operator]
    with hostile(mock.base_url, "huge-body") as proxy:
        started = time.monotonic()
        result = _certify(proxy.base_url, mock.api_key, tmp_path / "reports", "--only", "balances")
        took = time.monotonic() - started
    assert result.returncode == 1, describe(result)
    assert "body cut off at 10485760 bytes" in result.stdout, describe(result)
    assert "Traceback" not in result.stdout + result.stderr
    # the largest child this process has waited for (certify, far below the 200 MB it was sent)
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss < 600 * 1024
    assert mock.api_key not in _all_output(result, tmp_path / "reports")
    assert took < 240, f"{took:.0f} s"


def test_certify_through_occasional_429_and_503_with_retry_after_conforms(
    start_mock: object, tmp_path: Path
) -> None:
    """Every fourth answer is a 429 or a 503 with Retry-After: retried, never a finding."""
    mock = start_mock()  # type: ignore[operator]
    with hostile(mock.base_url, "rate-limit", every=4) as proxy:
        result = _certify(
            proxy.base_url, mock.api_key, tmp_path / "reports", "--only", "users", "balances", "schema"
        )
    assert result.returncode == 0, describe(result)
    assert "CONFORMS" in result.stdout and "Traceback" not in result.stdout + result.stderr
    assert mock.api_key not in _all_output(result, tmp_path / "reports")


def test_certify_of_a_distant_target_conforms(start_mock: object, tmp_path: Path) -> None:
    """100 ms on every answer: no check times out or judges a slow answer (bench_latency.py
    measures how long it takes)."""
    mock = start_mock()  # type: ignore[operator]
    with hostile(mock.base_url, "latency", delay=0.1) as proxy:
        started = time.monotonic()
        result = _certify(proxy.base_url, mock.api_key, tmp_path / "reports")
        took = time.monotonic() - started
    assert result.returncode == 0, describe(result)
    assert "Traceback" not in result.stdout + result.stderr
    assert mock.api_key not in _all_output(result, tmp_path / "reports")
    assert took < 300, f"{took:.0f} s"
