"""``qiibee-conformance certify``: exit codes, reports, one-line run errors, and the key never shown."""

from __future__ import annotations

import json
import socket
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from qiibee_conformance.certify.config import load_config, make_settings
from qiibee_conformance.certify.reports import html_report, json_report
from qiibee_conformance.certify.results import FAIL, ItemRecord, assemble
from qiibee_conformance.embedded import EmbeddedMock
from qiibee_conformance.errors import RunError
from qiibee_conformance.paths import contracts_dir
from qiibee_conformance.redact import REDACTED, scrub_files
from qiibee_conformance.settings import DOCUMENTED_ETIHAD_NUMBERS
from qiibee_conformance.targets import ensure_safe_target, validate_url
from tests.certify_helpers import (
    clean_env,
    describe,
    load_report,
    requirement_status,
    run_certify,
    run_plain_pytest,
)
from tests.hostile import serve

SECRET_KEY = "qk-secret-7f3a9c1e5b2d4680"


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _assert_one_line_run_error(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode == 2, describe(result)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, describe(result)
    assert "Traceback" not in result.stderr + result.stdout
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _files_text(directory: Path) -> str:
    files = [p for p in directory.rglob("*") if p.is_file()]
    return "".join(p.read_text(encoding="utf-8", errors="replace") for p in files)


# --- end to end against the embedded mock ------------------------------------------------


@pytest.mark.slow
def test_certify_embedded_mock_conforms_and_writes_three_reports(tmp_path: Path) -> None:
    reports = tmp_path / "out"
    # With no --target the embedded mock is started with the given key, so we know what must never show.
    result = run_certify(
        "--max-examples", "3", "--reports", str(reports), "--api-key", SECRET_KEY, cwd=tmp_path
    )
    assert result.returncode == 0, describe(result)
    assert "run id" in result.stdout and "verdict: CONFORMS" in result.stdout
    document = load_report(reports)
    assert document["verdict"] == "CONFORMS"
    assert document["embedded_mock"] is True
    statuses = requirement_status(document)
    assert FAIL not in statuses.values()
    assert statuses["SCH-01"] == "verified"
    assert document["counts"]["total_requests"] > 0
    assert "api_key" not in document["settings"]
    html = (reports / "certification.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "CONFORMS" in html
    assert "<script" not in html and "http-equiv" not in html and 'src="http' not in html
    junit = ET.parse(reports / "junit.xml").getroot()
    assert junit.iter("testcase") and sum(1 for _ in junit.iter("testcase")) > 0
    assert SECRET_KEY not in result.stdout + result.stderr
    assert SECRET_KEY not in _files_text(reports)
    assert not (tmp_path / ".pytest_cache").exists()


# --- run errors: exit 2, one line, no traceback -------------------------------------------


def test_unreachable_target_is_a_run_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_unused_port()}"
    result = run_certify("--target", url, "--api-key", SECRET_KEY, "--reports", str(tmp_path), cwd=tmp_path)
    _assert_one_line_run_error(result, "cannot reach")
    assert SECRET_KEY not in result.stdout + result.stderr


def test_rejected_key_is_a_run_error(tmp_path: Path, mock_server: EmbeddedMock) -> None:
    result = run_certify(
        "--target", mock_server.base_url, "--api-key", SECRET_KEY, "--reports", str(tmp_path), cwd=tmp_path
    )
    _assert_one_line_run_error(result, "API key rejected")
    assert SECRET_KEY not in result.stdout + result.stderr


def test_key_from_environment_and_missing_key(tmp_path: Path, mock_server: EmbeddedMock) -> None:
    missing = run_certify("--target", mock_server.base_url, cwd=tmp_path)
    _assert_one_line_run_error(missing, "no API key")
    wrong = run_certify(
        "--target", mock_server.base_url, cwd=tmp_path, env=clean_env(QIIBEE_API_KEY=SECRET_KEY)
    )
    _assert_one_line_run_error(wrong, "rejected")


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        ('brand_id = "x"\nsettle_timout = 3\n', ["unknown key 'settle_timout'", "qiibee.toml"]),
        ('max_examples = "many"\n', ["'max_examples'", "integer", "qiibee.toml"]),
        ("[membership_numbers]\netihad = [100014486294]\n", ["membership_numbers", "strings"]),
        ('api_key = "abc"\n', ["unknown key 'api_key'", "never in a file"]),
        ("brand_id = \n", ["not valid TOML", "qiibee.toml"]),
    ],
)
def test_bad_config_is_a_run_error(tmp_path: Path, content: str, needles: list[str]) -> None:
    config = tmp_path / "qiibee.toml"
    config.write_text(content, encoding="utf-8")
    result = run_certify("--config", str(config), "--reports", str(tmp_path / "r"), cwd=tmp_path)
    _assert_one_line_run_error(result, *needles)


def test_missing_config_file_is_a_run_error(tmp_path: Path) -> None:
    result = run_certify("--config", str(tmp_path / "nope.toml"), cwd=tmp_path)
    _assert_one_line_run_error(result, "does not exist")


def test_unknown_group_lists_the_valid_ones(tmp_path: Path) -> None:
    result = run_certify("--only", "exchange", "bogus", cwd=tmp_path)
    line = _assert_one_line_run_error(result, "unknown group 'bogus'")
    for group in ("auth", "exchange", "history", "schema", "stateful"):
        assert group in line


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--max-examples", "lots"], "--max-examples must be an integer"),
        (["--max-examples", "0"], "--max-examples must be at least 1"),
        (["--settle-timeout", "-3"], "--settle-timeout must be a positive number"),
        (["--target", "ftp://127.0.0.1/x", "--api-key", SECRET_KEY], "scheme must be http or https"),
    ],
)
def test_bad_flag_values_are_run_errors(tmp_path: Path, args: list[str], needle: str) -> None:
    result = run_certify(*args, cwd=tmp_path)
    _assert_one_line_run_error(result, needle)


def test_non_sandbox_host_is_refused_before_any_request(tmp_path: Path) -> None:
    # No network beyond loopback: the refusal must come before any connection attempt.
    result = run_certify("--target", "https://api.qiibee.com", "--api-key", SECRET_KEY, cwd=tmp_path)
    _assert_one_line_run_error(result, "refusing", "--allow-non-sandbox")
    assert SECRET_KEY not in result.stdout + result.stderr


# --- findings: exit 1, evidence, and still no key ------------------------------------------


@pytest.mark.slow
def test_key_never_shown_when_a_check_fails(tmp_path: Path, start_mock: Callable[..., EmbeddedMock]) -> None:
    mock = start_mock(faults=["auth-missing-key-accepted", "error-empty-body"], api_key=SECRET_KEY)
    reports = tmp_path / "reports"
    result = run_certify(
        "--target", mock.base_url, "--only", "auth", "errors", "--reports", str(reports), cwd=tmp_path,
        env=clean_env(QIIBEE_API_KEY=SECRET_KEY),
    )
    assert result.returncode == 1, describe(result)
    statuses = requirement_status(load_report(reports))
    assert statuses["AUTH-01"] == "failed"
    assert "Findings:" in result.stdout and "AUTH-01" in result.stdout
    assert SECRET_KEY not in result.stdout + result.stderr
    assert SECRET_KEY not in _files_text(reports)
    document = load_report(reports)
    failed = next(r for r in document["requirements"] if r["id"] == "AUTH-01")
    assert failed["source"] and failed["message"]
    html = (reports / "certification.html").read_text(encoding="utf-8")
    assert "NONCONFORMING" in html and "finding-AUTH-01" in html


# --- the same checks as plain pytest ------------------------------------------------------


@pytest.mark.slow
def test_plain_pytest_mode(tmp_path: Path, start_mock: Callable[..., EmbeddedMock]) -> None:
    clean = start_mock(api_key=SECRET_KEY)
    junit = tmp_path / "junit.xml"
    ok = run_plain_pytest(
        "--target", clean.base_url, "--api-key", SECRET_KEY, "--qiibee-only", "auth", "-q",
        f"--junitxml={junit}", cwd=tmp_path,
    )
    assert ok.returncode == 0, describe(ok)
    assert sum(1 for _ in ET.parse(junit).getroot().iter("testcase")) > 0
    faulty = start_mock(faults=["auth-missing-key-accepted"], api_key=SECRET_KEY)
    bad = run_plain_pytest(
        "--target", faulty.base_url, "--api-key", SECRET_KEY, "-k", "AUTH-01", "-q", cwd=tmp_path
    )
    assert bad.returncode == 1, describe(bad)
    assert SECRET_KEY not in bad.stdout + bad.stderr


def test_plain_pytest_run_error_exits_2(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_unused_port()}"
    result = run_plain_pytest(
        "--target", url, "--api-key", SECRET_KEY, "--qiibee-only", "auth", "-q", cwd=tmp_path
    )
    assert result.returncode == 2, describe(result)
    assert "cannot reach" in result.stdout + result.stderr


def test_plain_pytest_unknown_group_is_a_usage_error(tmp_path: Path) -> None:
    result = run_plain_pytest("--qiibee-only", "bogus", "--collect-only", "-q", cwd=tmp_path)
    assert result.returncode == 4, describe(result)
    assert "unknown group 'bogus'" in result.stderr


# --- units: config, targets, reports --------------------------------------------------------


def test_example_config_is_valid_and_documented() -> None:
    example = contracts_dir() / "qiibee.example.toml"
    values = load_config(example)
    settings = make_settings("http://127.0.0.1:1", "k", file_values=values, overrides={"max_examples": 7})
    assert settings.max_examples == 7  # the command line wins over the file
    assert settings.membership_numbers["etihad"] == DOCUMENTED_ETIHAD_NUMBERS
    text = example.read_text(encoding="utf-8")
    for key in values:
        assert f"{key}" in text


def test_config_merges_membership_numbers(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[membership_numbers]\nmiles_and_more = ["0123"]\n', encoding="utf-8")
    values = load_config(config)
    assert values["membership_numbers"] == {"etihad": DOCUMENTED_ETIHAD_NUMBERS, "miles_and_more": ("0123",)}
    config.write_text("[membership_numbers]\netihad = []\n", encoding="utf-8")
    assert load_config(config)["membership_numbers"] == {}


@pytest.mark.parametrize(
    ("url", "allow", "ok"),
    [
        ("http://127.0.0.1:8000", False, True),
        ("http://[::1]:8000/", False, True),
        ("http://localhost:9", False, True),
        ("https://sandbox-api.qiibee.com", False, True),
        ("https://api.staging.example.org/v1", False, True),
        ("https://api.qiibee.com", False, False),
        ("https://dev2.qiibee.example", False, True),
        ("https://latest.qiibee.com", False, False),
        ("https://devices.example.com", False, False),
        ("https://10.0.0.8", False, False),
        ("https://api.qiibee.com", True, True),
    ],
)
def test_ensure_safe_target(url: str, allow: bool, ok: bool) -> None:
    if ok:
        ensure_safe_target(url, allow_any=allow)
    else:
        with pytest.raises(RunError, match="allow-non-sandbox"):
            ensure_safe_target(url, allow_any=allow)


@pytest.mark.parametrize("url", ["", "127.0.0.1:8000", "ftp://host", "http://", "http://u:p@host", "http://h:x"])
def test_validate_url_rejects(url: str) -> None:
    with pytest.raises(RunError):
        validate_url(url)


def test_html_report_escapes_everything_and_scan_redacts(tmp_path: Path) -> None:
    hostile = '<script>alert("x")</script>'
    record = ItemRecord(
        nodeid="test_x.py::test_y",
        requirement_ids=["EXC-03"],
        group="exchange",
        outcome=FAIL,
        message=f"expected 3, got {hostile}",
        evidence=[{"request": {"method": "GET", "url": "http://h/x", "headers": {}, "body": hostile},
                   "response": {"status": 200, "headers": {}, "body": hostile}, "curl": "curl 'http://h/x'"}],
    )
    now = datetime.now(UTC)
    cert = assemble(
        [record], selected_groups=frozenset({"exchange"}), run_error=None, target="http://h", run_id="r1",
        embedded_mock=False, started_at=now, finished_at=now, settings={}, counts={}, collection_errors=[],
    )
    assert cert.verdict == "NONCONFORMING"
    document = json_report.build(cert)
    statuses = requirement_status(document)
    assert statuses["EXC-03"] == "failed" and statuses["AUTH-01"] == "not-run"
    html = html_report.render(document)
    assert "<script>" not in html and "&lt;script&gt;" in html
    path = json_report.write(document, tmp_path)
    leaked = tmp_path / "leak.txt"
    leaked.write_text(f"header {SECRET_KEY} and {json.dumps(SECRET_KEY)}", encoding="utf-8")
    assert scrub_files([path, leaked], [SECRET_KEY]) == [leaked]
    text = leaked.read_text(encoding="utf-8")
    assert SECRET_KEY not in text and REDACTED in text


class _EmptyCatalogueHandler(BaseHTTPRequestHandler):
    """A target that accepts the key but offers nothing to exchange: certification cannot be made."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body: dict[str, Any]
        if self.headers.get("X-API-KEY") != SECRET_KEY:
            status, body = 401, {"error": "Invalid API Key"}
        elif self.path.startswith("/token-exchange-whitelist"):
            status, body = 200, {"data": []}
        else:
            status, body = 404, {"error": "not found"}
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    # http.server dispatches on these exact names.
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def empty_catalogue_target() -> Iterator[str]:
    with serve(_EmptyCatalogueHandler) as url:
        yield url


@pytest.mark.slow
def test_run_error_during_the_run_still_writes_reports(tmp_path: Path, empty_catalogue_target: str) -> None:
    reports = tmp_path / "reports"
    result = run_certify(
        "--target", empty_catalogue_target, "--api-key", SECRET_KEY, "--only", "exchange",
        "--reports", str(reports), cwd=tmp_path,
    )
    _assert_one_line_run_error(result)
    document = load_report(reports)
    assert document["verdict"] == "INCOMPLETE"
    assert document["run_error"] and document["run_error"] in result.stderr
    assert "failed" not in requirement_status(document).values()
    assert SECRET_KEY not in result.stdout + result.stderr + _files_text(reports)
