"""The transport rules every HTTP path keeps: the key stays with its origin, rate limits are
waited out within a budget, bodies are capped. Real servers on loopback."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
import requests

from qiibee_conformance.client import ApiClient
from qiibee_conformance.embedded import EmbeddedMock
from qiibee_conformance.errors import RunError
from qiibee_conformance.preflight import preflight
from qiibee_conformance.transport import (
    GuardedSession,
    Limits,
    RateLimitedError,
    _Environment,
    is_rate_limited,
    retry_after_seconds,
    same_origin,
)
from tests.hostile import hostile, serve

KEY = "qk-transport-5e1f0a9b7c"


def test_same_origin_compares_scheme_host_and_port() -> None:
    assert same_origin("http://127.0.0.1:8000/a", "http://127.0.0.1:8000/b?x=1")
    assert same_origin("http://Example.com/a", "http://example.com:80/b")
    assert not same_origin("http://example.com/a", "https://example.com/a")  # scheme upgrade
    assert not same_origin("http://127.0.0.1:8000/a", "http://127.0.0.1:8001/a")
    assert not same_origin("http://example.com/a", "http://evil.example.com/a")


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after_seconds({"Retry-After": "3"}) == 3.0
    assert retry_after_seconds({}) is None
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    date = "Wed, 21 Oct 2015 07:28:10 GMT"
    assert retry_after_seconds({"Retry-After": date}, now=lambda: 1445412480.0) == 10.0
    assert is_rate_limited(429, {})
    assert is_rate_limited(503, {"Retry-After": "1"})
    assert not is_rate_limited(503, {})


@pytest.fixture
def trapped(mock_server: EmbeddedMock) -> Iterator[Any]:
    with hostile(mock_server.base_url, "redirect-first") as proxy:
        yield proxy


def test_a_redirect_to_another_port_is_not_followed_and_the_key_never_leaves(trapped: Any) -> None:
    session = GuardedSession()
    response = session.get(trapped.base_url + "/users", headers={"X-API-KEY": KEY})
    assert response.status_code == 302
    assert response.headers["Location"].startswith(trapped.trap_url)
    assert trapped.trap.requests == []


def test_a_redirect_within_the_origin_is_followed() -> None:
    class Moved(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/old":
                self.send_response(301)
                self.send_header("Location", "/new")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = self.headers.get("X-API-KEY", "").encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serve(Moved) as url:
        response = GuardedSession().get(url + "/old", headers={"X-API-KEY": KEY})
    assert response.status_code == 200
    assert response.text == KEY


def test_preflight_names_the_location_of_a_redirecting_target(trapped: Any) -> None:
    client = ApiClient(trapped.base_url, KEY)
    with pytest.raises(RunError, match="redirects GET /token-exchange-whitelist") as caught:
        preflight(client)
    assert trapped.trap_url in str(caught.value)
    assert KEY not in str(caught.value)
    assert not trapped.trap.saw(KEY)


def test_rate_limited_answers_are_waited_out(mock_server: EmbeddedMock) -> None:
    with hostile(mock_server.base_url, "rate-limit", every=2) as proxy:
        client = ApiClient(proxy.base_url, mock_server.api_key)
        statuses = [client.get("/token-exchange-whitelist").status for _ in range(6)]
    assert statuses == [200] * 6
    assert next(proxy.served) > 6  # some answers were 429/503 and were sent again


def test_past_the_retry_budget_the_run_could_not_be_made() -> None:
    class Busy(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(429)
            self.send_header("Retry-After", "1")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    waits: list[float] = []
    with serve(Busy) as url:
        session = GuardedSession(Limits(max_retries=3), sleep=waits.append)
        with pytest.raises(RateLimitedError, match="kept rate-limiting GET /busy"):
            session.get(url + "/busy")
    assert waits == [1.0, 1.0, 1.0]


def test_an_endless_body_is_cut_off_at_the_cap(mock_server: EmbeddedMock) -> None:
    user = ApiClient(mock_server.base_url, mock_server.api_key).post(
        "/users", {"user": {"email": f"cap-{time.time_ns()}@example.com"}}
    )
    auth_id = user.data()["auth_id"]
    cap = 256 * 1024
    with hostile(mock_server.base_url, "huge-body", huge_bytes=50 * 1024 * 1024) as proxy:
        client = ApiClient(proxy.base_url, mock_server.api_key, limits=Limits(max_body_bytes=cap))
        started = time.monotonic()
        response = client.get(f"/users/{auth_id}/balances")
        took = time.monotonic() - started
    assert response.status == 200
    assert len(response.text) == cap
    assert response.exchange.error is not None and "cut off" in response.exchange.error
    assert took < 10


def test_proxies_follow_the_environment_read_once() -> None:
    env = _Environment(
        proxies={"http": "http://proxy:3128", "all": "http://any:3128"},
        no_proxy=("localhost", "127.0.0.0/8", ".example.org"),
        ca_bundle=None,
    )
    assert env.proxies_for("http://127.0.0.1:8000/x") == {}
    assert env.proxies_for("http://api.example.org/x") == {}
    assert env.proxies_for("http://localhost:9/x") == {}
    assert env.proxies_for("http://other.com/x") == {"http": "http://proxy:3128"}
    assert env.proxies_for("https://other.com/x") == {"https": "http://any:3128"}


def test_requests_never_read_an_environment_another_thread_rewrites(
    mock_server: EmbeddedMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pytest rewrites PYTEST_CURRENT_TEST while the business checks send requests from a
    thread of their own; requests reads os.environ on every request, which can then fail.
    The session reads it once: after that, an environment that cannot be read changes nothing."""

    class Unreadable(dict[str, str]):
        def __getitem__(self, key: str) -> str:
            raise KeyError(key)

        def get(self, key: str, default: object = None) -> Any:
            raise KeyError(key)

        def __iter__(self) -> Iterator[str]:
            raise RuntimeError("os.environ changed size during iteration")

    session = GuardedSession()
    monkeypatch.setattr(os, "environ", Unreadable())
    response = session.get(mock_server.base_url + "/token-exchange-whitelist",
                           headers={"X-API-KEY": mock_server.api_key})  # fmt: skip
    assert response.status_code == 200
    with pytest.raises((KeyError, RuntimeError)):
        requests.Session().get(mock_server.base_url + "/token-exchange-whitelist")
