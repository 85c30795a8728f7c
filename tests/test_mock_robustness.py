"""Auth, error bodies and hostile input: always a 4xx JSON error, never a 5xx or traceback."""

from __future__ import annotations

import pytest
import requests

from qiibee_conformance.embedded import EmbeddedMock
from tests.conftest import MockApi

OPERATIONS = [
    ("POST", "/users"), ("GET", "/users"), ("GET", "/users/"), ("GET", "/users/x"), ("PUT", "/users/x"),
    ("PATCH", "/users/x"), ("POST", "/users/x/memberships"), ("GET", "/users/x/memberships"),
    ("GET", "/users/x/memberships/etihad"), ("DELETE", "/users/x/memberships/etihad"),
    ("GET", "/users/x/balances"), ("POST", "/transactions"), ("GET", "/transactions"),
    ("GET", "/token-exchange-whitelist"),
]


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_every_operation_needs_the_key(mock_server: EmbeddedMock, method: str, path: str) -> None:
    url = mock_server.base_url + path
    missing = requests.request(method, url, json={}, timeout=5)
    assert missing.status_code == 401 and missing.json() == {"error": "Missing x-api-key header"}
    wrong = requests.request(method, url, json={}, headers={"X-API-KEY": "nope"}, timeout=5)
    assert wrong.status_code == 401 and wrong.json() == {"error": "Invalid API Key"}


@pytest.mark.parametrize(
    ("method", "path"),
    [("DELETE", "/users"), ("TRACE", "/users"), ("PUT", "/transactions"), ("POST", "/users/x/balances"),
     ("DELETE", "/token-exchange-whitelist"), ("HEAD", "/users"), ("OPTIONS", "/transactions")],
)
def test_undocumented_method_is_405_json(mock_api: MockApi, method: str, path: str) -> None:
    resp = mock_api.request(method, path)
    assert resp.status_code == 405 and resp.headers["Allow"]
    if method != "HEAD":
        assert resp.json()["error"]


def test_unknown_path_is_404_json(mock_api: MockApi) -> None:
    for path in ("/nope", "/users/x/y/z", "/transactions/1"):
        resp = mock_api.get(path)
        assert resp.status_code == 404 and resp.json()["error"]


MALFORMED: list[bytes] = [
    b"", b"{", b"[]", b"null", b"42", b'"user"', b"\xff\xfe\x00", b'{"user": []}', b'{"user": null}',
    b'{"transaction": "x"}', b'{"membership": 1}', b"[" * 100_000, b'{"a": NaN}', b'{"amount": 1e999999}',
]
ODD: list[bytes] = [
    b'{"user": {"email": {"$ne": 1}}}',
    b'{"transaction": {"type": "exchange", "amount": 1' + b"0" * 5000 + b"}}",
    b'{"user": {"email": "a@b.co", "metadata": [1]}}',
    b'{"user": {"email": "a@b.co", "metadata": {"x": 1e999}}}',
    b'{"user": {"email": "a@b.co", "auth_id": 7}}',
    b'{"transaction": {"type": "credit_points", "user_auth_id": 1, "token_id": 1e3, "amount": 5}}',
    b'{"transaction": {"type": "exchange", "user_auth_id": "x", "brandA_token_id": 99999999999999999999,'
    b' "brandB_token_id": -1, "amount": 5}}',
    b'{"transaction": {"reward_type": ["points_to_nft_exchange"]}}',
]


@pytest.mark.parametrize("path", ["/users", "/users/x", "/users/x/memberships", "/transactions"])
def test_hostile_bodies_are_4xx(mock_api: MockApi, path: str) -> None:
    user = mock_api.new_user()["auth_id"]
    path = path.replace("/x", f"/{user}")
    method = "PUT" if path.count("/") == 2 else "POST"
    for body in MALFORMED + ODD:
        resp = mock_api.request(method, path, data=body, headers={"Content-Type": "application/json"})
        assert resp.status_code < 500, (body[:60], resp.status_code, resp.text)
        assert body not in MALFORMED or 400 <= resp.status_code < 500, (body[:60], resp.status_code)
        assert resp.json()
        assert "Traceback" not in resp.text


def test_hostile_queries_are_4xx_or_ok(mock_api: MockApi) -> None:
    for params in ({"limit": "9" * 40}, {"offset": "9" * 25}, {"limit": "1e3"}, {"from_time": "\x00"},
                   {"token_id": "9" * 40}, {"types[]": ""}, {"to_time": "9999-99-99"}):
        for path in ("/users", "/transactions"):
            resp = mock_api.get(path, params=params)
            assert resp.status_code < 500, (path, params, resp.text)


def test_no_traceback_in_the_log(mock_server: EmbeddedMock) -> None:
    assert "Traceback" not in mock_server.log_text()
