"""Transaction history rules of the reference mock: order, paging, counts, filters."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import MockApi

ROW_KEYS = {"id", "amount_received", "points_burned", "loyalty_event_type", "status", "inserted_at",
            "token", "token_to", "user", "user_to", "brand", "brand_to", "exchange_provider", "tx_hash",
            "code", "reward_id"}


@pytest.fixture(scope="module")
def busy_user(mock_api: MockApi) -> str:
    """A user with credits, a debit and exchanges in the history."""
    auth_id = mock_api.funded_user(500)
    mock_api.credit(auth_id, 25)
    mock_api.tx(type="debit_points", user_auth_id=auth_id, token_id=101, amount=5)
    for amount in (1, 2, 3):
        mock_api.tx(type="exchange", user_auth_id=auth_id, brandA_token_id=101, brandB_token_id=202,
                    amount=amount)
    mock_api.wait_settled(auth_id)
    return auth_id


def test_rows_shape_and_newest_first(mock_api: MockApi, busy_user: str) -> None:
    rows = mock_api.history(user_auth_id=busy_user)
    assert len(rows) == 6
    assert all(set(r) == ROW_KEYS for r in rows)
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)
    kinds = [r["loyalty_event_type"] for r in rows]
    assert kinds == ["exchange"] * 3 + ["debit_points"] + ["credit_points"] * 2
    assert all(r["user"]["auth_id"] == busy_user for r in rows)
    datetime.fromisoformat(rows[0]["inserted_at"])


def test_paging_walk_and_counts(mock_api: MockApi, busy_user: str) -> None:
    ids: list[int] = []
    for offset in range(0, 8, 4):
        data = mock_api.get("/transactions", params={"user_auth_id": busy_user, "limit": 4,
                                                     "offset": offset}).json()["data"]
        assert data["total_tx_count"] == 6 and data["limit"] == 4 and data["offset"] == offset
        ids += [r["id"] for r in data["transactions"]]
    assert len(ids) == 6 == len(set(ids))
    past = mock_api.get("/transactions", params={"user_auth_id": busy_user, "offset": 50}).json()["data"]
    assert past["transactions"] == [] and past["total_tx_count"] == 6


def test_limit_rules(mock_api: MockApi, busy_user: str) -> None:
    assert mock_api.get("/transactions", params={"limit": 101}).json()["data"]["limit"] == 100
    for bad in ({"limit": 0}, {"limit": "x"}, {"offset": -1}, {"token_id": "abc"},
                {"from_time": "not-a-time"}):
        assert mock_api.get("/transactions", params=bad).status_code == 400


@pytest.mark.parametrize(
    "params",
    [{"types[]": ["debit_points", "credit_points"]}, {"types": ["debit_points", "credit_points"]},
     {"types": "debit_points,credit_points"}],
)
def test_types_filter_encodings(mock_api: MockApi, busy_user: str, params: dict[str, Any]) -> None:
    rows = mock_api.history(user_auth_id=busy_user, **params)
    assert sorted(r["loyalty_event_type"] for r in rows) == ["credit_points", "credit_points", "debit_points"]


def test_unknown_filters_give_empty(mock_api: MockApi, busy_user: str) -> None:
    assert mock_api.history(types="bogus") == []
    data = mock_api.get("/transactions", params={"user_auth_id": "nobody"}).json()["data"]
    assert data["transactions"] == [] and data["total_tx_count"] == 0


def test_token_filter_matches_token(mock_api: MockApi, busy_user: str) -> None:
    assert len(mock_api.history(user_auth_id=busy_user, token_id=101)) == 6
    assert mock_api.history(user_auth_id=busy_user, token_id=202) == []


def test_time_filters_inclusive_on_shown_inserted_at(mock_api: MockApi, busy_user: str) -> None:
    rows = mock_api.history(user_auth_id=busy_user)
    newest = rows[0]["inserted_at"]
    assert rows[0]["id"] in [r["id"] for r in mock_api.history(user_auth_id=busy_user, from_time=newest)]
    assert rows[0]["id"] in [r["id"] for r in mock_api.history(user_auth_id=busy_user, to_time=newest)]
    future = (datetime.now(UTC) + timedelta(seconds=5)).isoformat()
    assert mock_api.history(user_auth_id=busy_user, from_time=future) == []


def test_deep_page_costs_like_first_page(start_mock: Any) -> None:
    mock = start_mock(seed_history=100_000)
    api = MockApi(mock)
    first = api.get("/transactions", params={"limit": 100}).json()["data"]
    assert first["total_tx_count"] == 100_000 and len(first["transactions"]) == 100

    def timed(offset: int) -> float:
        start = time.perf_counter()
        resp = api.get("/transactions", params={"limit": 100, "offset": offset})
        assert resp.status_code == 200
        return time.perf_counter() - start

    deep = api.get("/transactions", params={"limit": 100, "offset": 99_900}).json()["data"]
    assert deep["transactions"][-1]["id"] == first["transactions"][0]["id"] - 99_999
    shallow_best = deep_best = 1e9
    for _ in range(9):  # interleaved best-of runs, so a busy machine hits both sides alike
        shallow_best = min(shallow_best, timed(0))
        deep_best = min(deep_best, timed(99_900))
    assert deep_best <= 1.5 * shallow_best + 0.01
