"""Concurrency and persistence: no overdraw under a burst, every 202 stored once, restarts keep state."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from qiibee_conformance.embedded import EmbeddedMock
from tests.conftest import MockApi


def _burst(mock: EmbeddedMock, bodies: list[dict[str, Any]], workers: int = 50) -> list[requests.Response]:
    def send(body: dict[str, Any]) -> requests.Response:
        return requests.post(mock.base_url + "/transactions", json={"transaction": body},
                             headers={"X-API-KEY": mock.api_key}, timeout=20)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(send, bodies))


def _exchanges(auth_id: str, count: int, amount: int = 10) -> list[dict[str, Any]]:
    return [{"type": "exchange", "user_auth_id": auth_id, "brandA_token_id": 101, "brandB_token_id": 202,
             "amount": amount}] * count


def test_parallel_exchanges_never_overdraw(mock_api: MockApi) -> None:
    auth_id = mock_api.funded_user(400)
    responses = _burst(mock_api.mock, _exchanges(auth_id, 100), workers=100)
    codes = Counter(r.status_code for r in responses)
    assert codes == {202: 40, 400: 60}
    accepted = {r.json()["data"]["id"] for r in responses if r.status_code == 202}
    assert mock_api.balance(auth_id) == 0
    rows = mock_api.wait_settled(auth_id)
    exchange_ids = [r["id"] for r in rows if r["loyalty_event_type"] == "exchange"]
    assert sorted(exchange_ids) == sorted(accepted)
    assert all(r["status"] == "success" for r in rows)
    assert mock_api.balance(auth_id) == 0 and mock_api.balance(auth_id, 202) == 40 * 35


def test_parallel_credits_are_all_counted(mock_api: MockApi) -> None:
    auth_id = mock_api.new_user()["auth_id"]
    body = {"type": "credit_points", "user_auth_id": auth_id, "token_id": 101, "amount": 3}
    assert {r.status_code for r in _burst(mock_api.mock, [body] * 60)} == {202}
    assert mock_api.balance(auth_id) == 180
    assert len(mock_api.history(user_auth_id=auth_id)) == 60


def test_race_faults_really_misbehave(start_mock: Any) -> None:
    mock = start_mock(faults=["race-overdraw", "race-lost-credit"])
    api = MockApi(mock)
    auth_id = api.funded_user(100)
    accepted = sum(r.status_code == 202 for r in _burst(mock, _exchanges(auth_id, 50)))
    assert accepted > 10, accepted
    assert api.balance(auth_id) < 0
    other = api.new_user()["auth_id"]
    body = {"type": "credit_points", "user_auth_id": other, "token_id": 101, "amount": 1}
    assert {r.status_code for r in _burst(mock, [body] * 50)} == {202}
    assert api.balance(other) < 50, "no credit was lost"


def test_restart_on_the_same_db_keeps_everything(start_mock: Any, tmp_path: Path) -> None:
    db = tmp_path / "mock.sqlite"
    first = start_mock(db_path=db, settle_delay=30)
    api = MockApi(first)
    user = api.new_user(first_name="Kept")
    auth_id = user["auth_id"]
    api.credit(auth_id, 100)
    api.post(f"/users/{auth_id}/memberships",
             json={"membership": {"brand_id": "etihad", "membership_number": "100014486294"}})
    assert api.tx(type="exchange", user_auth_id=auth_id, brandA_token_id=101, brandB_token_id=202,
                  amount=10).status_code == 202
    assert api.history(user_auth_id=auth_id)[0]["status"] == "pending"
    first.stop()

    second = start_mock(db_path=db, api_key=first.api_key)
    api2 = MockApi(second)
    assert api2.get(f"/users/{auth_id}").json()["data"] == user
    assert api2.get(f"/users/{auth_id}/memberships/etihad").status_code == 200
    rows = api2.wait_settled(auth_id)
    assert [r["status"] for r in rows] == ["success", "success"]
    assert api2.balance(auth_id) == 90 and api2.balance(auth_id, 202) == 35
    new = api2.new_user()
    assert api2.get("/users", params={"limit": 1}).json()["data"]["users"][0]["auth_id"] == new["auth_id"]
    api2.credit(new["auth_id"], 1)
    assert api2.get("/transactions").json()["data"]["total_tx_count"] == 3
