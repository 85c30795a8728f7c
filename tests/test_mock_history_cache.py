"""The mock caches rendered history rows: a cached row must never outlive a change to it.

Rows are read through both page paths (unfiltered: served by id from the cache;
filtered: checked against the stored status) while pending, then after they
settle, then after their user is renamed.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from qiibee_conformance.mock.app import build_state
from qiibee_conformance.mock.config import MockConfig
from qiibee_conformance.mock.store import TxFilter
from qiibee_conformance.mock.validation import ApiError
from tests.conftest import MockApi

SETTLE = 0.8  # long enough to read the rows while they are still pending


def _both_paths(api: MockApi, auth_id: str, count: int) -> list[list[dict[str, Any]]]:
    """The user's newest rows as the unfiltered page shows them, and as the filtered page does."""
    unfiltered = [r for r in api.history(limit=count) if r["user"]["auth_id"] == auth_id]
    return [unfiltered, api.history(user_auth_id=auth_id)]


def test_cached_rows_follow_settlement_and_user_updates(start_mock: Any) -> None:
    api = MockApi(start_mock(settle_delay=SETTLE))
    other = api.funded_user(50)
    auth_id = api.new_user(first_name="Ann")["auth_id"]
    api.credit(auth_id, 100)
    for to_token in (202, 707):  # 202 settles, 707 (external partner) always fails
        resp = api.tx(type="exchange", user_auth_id=auth_id, brandA_token_id=101, brandB_token_id=to_token,
                      amount=10)
        assert resp.status_code == 202, resp.text
    for rows in _both_paths(api, auth_id, 3):  # cached while pending
        assert [r["status"] for r in rows] == ["pending", "pending", "success"]
        assert [r["tx_hash"] for r in rows[:2]] == [None, None]
    assert api.history(limit=3) == api.history(limit=3)  # second read is served from the cache

    time.sleep(SETTLE + 0.3)
    deadline = time.monotonic() + 10  # poll the id-served page only: it must see the settlement itself
    while any(r["status"] == "pending" for r in api.history(limit=3)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for rows in _both_paths(api, auth_id, 3):
        assert [r["status"] for r in rows] == ["failed", "success", "success"]
        assert rows[0]["tx_hash"] is None and str(rows[1]["tx_hash"]).startswith("0x")
        assert {r["user"]["first_name"] for r in rows} == {"Ann"}

    other_before = api.history(user_auth_id=other)
    assert api.put(f"/users/{auth_id}", json={"user": {"first_name": "Bea"}}).status_code == 200
    for rows in _both_paths(api, auth_id, 4):
        assert len(rows) == 3 and {r["user"]["first_name"] for r in rows} == {"Bea"}
    assert api.history(user_auth_id=other) == other_before
    assert api.patch(f"/users/{auth_id}", json={"user": {"email": "bea@example.com"}}).status_code == 200
    for rows in _both_paths(api, auth_id, 4):
        assert {(r["user"]["first_name"], r["user"]["email"]) for r in rows} == {("Bea", "bea@example.com")}


def _page_ids(st: Any) -> list[int]:
    refs, _ = st.store.list_tx_refs(TxFilter(), limit=100, offset=0, oldest_first=False)
    return [ref[0] for ref in refs]


def test_row_writes_and_rollbacks_reach_the_cache() -> None:
    st = build_state(MockConfig(seed_users=1))
    forgotten: list[int] = []
    forget = st.renderer.forget_tx
    def changed(tx_id: int) -> None:
        forgotten.append(tx_id)
        forget(tx_id)

    st.store.tx_changed = changed
    common: dict[str, Any] = {"user_pk": 1, "token_id": 101, "token_to_id": None, "amount": 5}
    row = st.store.insert_tx(type="credit_points", status="success", amount_received="5", **common)
    with pytest.raises(ApiError), st.store.transaction():
        st.store.insert_tx(type="debit_points", status="success", amount_received=None, **common)
        raise ApiError("insufficient balance")
    assert forgotten == [row.id, row.id + 1, row.id + 1]  # insert, insert, then its rollback
    assert st.store.next_tx_id == row.id + 1 and _page_ids(st) == [row.id]
    st.store.finish_tx(row.id, "failed", False)
    assert forgotten[-1] == row.id


def test_row_cache_is_bounded_least_recently_read_first() -> None:
    st = build_state(MockConfig(seed_history=5))
    renderer, store = st.renderer, st.store
    renderer.row_cache_rows = 3
    ids = range(store.min_tx_id, store.next_tx_id)
    rows = store.txs_by_id(list(ids))
    users = store.users_by_pk(sorted({r.user_pk for r in rows.values()}))
    for tx_id in ids:
        renderer.cache_tx(rows[tx_id], users[rows[tx_id].user_pk])
    assert renderer.cached_ids(ids) == [None, None, *(renderer.cached_ids(ids[2:]))]
    assert renderer.cached_ids([ids[2]])[0] is not None  # read: now the most recent
    renderer.cache_tx(rows[ids[0]], users[rows[ids[0]].user_pk])
    cached = [tx_id for tx_id, item in zip(ids, renderer.cached_ids(ids), strict=True) if item is not None]
    assert sorted(cached) == [ids[0], ids[2], ids[4]]
