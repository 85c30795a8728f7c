"""HIS and USR must pass a correct target that makes choices the reference mock does not.

A small proxy in front of the mock plays such a target: it answers credit_points and
debit_points with 202 at once and applies them half a second later (asynchronous
points), and it answers a create without email with 422 (FastAPI's choice of 4xx).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import requests

from qiibee_conformance.embedded import EmbeddedMock
from qiibee_conformance.times import fraction_digits
from tests.certify_helpers import describe, load_report, requirement_status, run_certify
from tests.hostile import serve

KEY = "async-target-key-7c2e91"
APPLY_DELAY = 0.5


def _handler(upstream: str) -> type[BaseHTTPRequestHandler]:
    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test output is the certify report."""

        def _request(self) -> tuple[str, str, dict[str, str]]:
            """What to forward, read now: on a kept-alive connection the handler object, with
            its command, path and headers, serves the next request before a delayed one goes."""
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            return self.command, upstream + self.path, headers

        @staticmethod
        def _send(request: tuple[str, str, dict[str, str]], body: bytes | None) -> requests.Response:
            method, url, headers = request
            return requests.request(method, url, headers=headers, data=body, timeout=30)

        def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            parsed = _json(body)
            tx = parsed.get("transaction") if isinstance(parsed, dict) else None
            user = parsed.get("user") if isinstance(parsed, dict) else None
            posted = self.command == "POST"
            if posted and isinstance(tx, dict) and tx.get("type") in ("credit_points", "debit_points"):
                threading.Timer(APPLY_DELAY, self._send, args=(self._request(), body)).start()
                self._reply(202, b"")
                return
            if posted and self.path == "/users" and isinstance(user, dict) and "email" not in user:
                self._reply(422, json.dumps({"detail": "email: field required"}).encode())
                return
            answer = self._send(self._request(), body)
            self._reply(answer.status_code, answer.content, answer.headers.get("Content-Type", ""))

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815 - http.server's names

    return Proxy


def _json(body: bytes | None) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


@pytest.fixture
def async_target(start_mock: Callable[..., EmbeddedMock]) -> Iterator[str]:
    mock = start_mock(api_key=KEY)
    with serve(_handler(mock.base_url)) as url:
        yield url
    time.sleep(APPLY_DELAY)  # let pending timers finish against the still running mock


@pytest.mark.slow
@pytest.mark.parametrize("group", ["history", "users"])
def test_asynchronous_points_and_422_pass(group: str, async_target: str, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = run_certify(
        "--target", async_target, "--api-key", KEY, "--only", group, "--max-examples", "5",
        "--reports", str(reports), cwd=tmp_path,
    )  # fmt: skip
    statuses = requirement_status(load_report(reports))
    failed = sorted(rid for rid, status in statuses.items() if status == "failed")
    assert failed == [], describe(result)
    assert result.returncode == 0, describe(result)


@pytest.mark.parametrize(
    ("shown", "digits"),
    [
        ("2021-09-27T14:31:10", 0),
        ("2021-09-27T14:31:10Z", 0),
        ("2021-09-27T14:31:10.123+00:00", 3),
        ("2021-09-27T14:31:10.123456", 6),
        ("2021-09-27T14:31:10.123456Z", 6),
        ("2021-09-27T14:31:10.1234567Z", 7),
        ("2021-09-27T14:31:10.123456789+02:00", 9),
    ],
)
def test_fraction_digits(shown: str, digits: int) -> None:
    assert fraction_digits(shown) == digits
