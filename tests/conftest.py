"""Shared fixtures: a running reference mock (session-wide) and a factory for custom ones.

``mock_server`` is one EmbeddedMock for the whole session (fast settlement);
``start_mock(**kwargs)`` starts another with custom faults/variants/db and stops
it after the test; ``mock_api`` is a small requests helper bound to ``mock_server``.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from qiibee_conformance.embedded import EmbeddedMock

FAST_SETTLE = 0.05


def pytest_configure(config: pytest.Config) -> None:
    """Let the runs the tests start take Ctrl-C even when this session was started with SIGINT
    ignored (`nohup`, or `cmd &` from a script, which is how some CI runners start steps).

    An ignored SIGINT is inherited by every child, and a program rightly leaves it ignored; a
    handler is reset to the default in a child, so the tests that press Ctrl-C test the runs,
    not the way this session was started."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


class MockApi:
    """Thin HTTP helper for tests: key header, JSON bodies, common set-up steps."""

    def __init__(self, mock: EmbeddedMock) -> None:
        self.mock = mock
        self.base_url = mock.base_url
        self.session = requests.Session()
        self.session.headers["X-API-KEY"] = mock.api_key

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def new_user(self, **fields: Any) -> dict[str, Any]:
        """Create a user with a unique email; returns the user object."""
        body = {"email": f"t-{uuid.uuid4().hex[:12]}@example.com", **fields}
        resp = self.post("/users", json={"user": body})
        assert resp.status_code == 201, resp.text
        user: dict[str, Any] = resp.json()["data"]
        return user

    def tx(self, **fields: Any) -> requests.Response:
        return self.post("/transactions", json={"transaction": fields})

    def credit(self, auth_id: str, amount: int, token_id: int = 101) -> None:
        resp = self.tx(type="credit_points", user_auth_id=auth_id, token_id=token_id, amount=amount)
        assert resp.status_code == 202, resp.text

    def funded_user(self, amount: int) -> str:
        """A new user holding ``amount`` brand points; returns its auth_id."""
        auth_id: str = self.new_user()["auth_id"]
        self.credit(auth_id, amount)
        return auth_id

    def balance(self, auth_id: str, token_id: int = 101) -> int:
        resp = self.get(f"/users/{auth_id}/balances")
        assert resp.status_code == 200, resp.text
        for entry in resp.json()["data"]:
            if int(entry["token"]["id"]) == token_id:
                return int(entry["balance"])
        return 0

    def history(self, **params: Any) -> list[dict[str, Any]]:
        resp = self.get("/transactions", params=params)
        assert resp.status_code == 200, resp.text
        rows: list[dict[str, Any]] = resp.json()["data"]["transactions"]
        return rows

    def wait_settled(self, auth_id: str, deadline: float = 10.0) -> list[dict[str, Any]]:
        """Poll the user's history until nothing is pending; returns the rows."""
        end = time.monotonic() + deadline
        while True:
            rows = self.history(user_auth_id=auth_id)
            if all(r["status"] != "pending" for r in rows) or time.monotonic() > end:
                return rows
            time.sleep(0.03)


@pytest.fixture(scope="session")
def mock_server() -> Iterator[EmbeddedMock]:
    """One reference mock for the session (correct behaviour, fast settlement)."""
    with EmbeddedMock(settle_delay=FAST_SETTLE) as mock:
        yield mock


@pytest.fixture(scope="session")
def mock_api(mock_server: EmbeddedMock) -> MockApi:
    return MockApi(mock_server)


@pytest.fixture
def start_mock() -> Iterator[Callable[..., EmbeddedMock]]:
    """Factory: ``start_mock(faults=[...], variants=[...], ...)``; stopped after the test."""
    started: list[EmbeddedMock] = []

    def start(**kwargs: Any) -> EmbeddedMock:
        kwargs.setdefault("settle_delay", FAST_SETTLE)
        mock = EmbeddedMock(**kwargs)
        mock.start()
        started.append(mock)
        return mock

    yield start
    for mock in started:
        mock.stop()
