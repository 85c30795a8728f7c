"""Faults EXC-12, USR-02, MEM-02, USR-07, WL-01, EXC-02, SET-02, CON-03, HIS-09, SCH-03:
each starts a mock with one fault and shows the rule broken over HTTP (and, where
cheap, the correct mock keeping it)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from qiibee_conformance.embedded import EmbeddedMock
from qiibee_conformance.mock.catalogue import INACTIVE_PAIRS, PAIRS, inbound_one_way_pair_ids
from tests.conftest import MockApi

Start = Callable[..., EmbeddedMock]
ETIHAD = "100014486294"


def faulty(start_mock: Start, fault: str) -> MockApi:
    return MockApi(start_mock(faults=[fault]))


def exchange(api: MockApi, auth_id: str, to_token: int, amount: int, **extra: Any) -> Any:
    return api.tx(type="exchange", user_auth_id=auth_id, brandA_token_id=101, brandB_token_id=to_token,
                  amount=amount, **extra)


def test_override_alone_suffices_by_default(mock_api: MockApi) -> None:
    auth_id = mock_api.funded_user(10)
    assert exchange(mock_api, auth_id, 404, 1, brandB_membership_number=ETIHAD).status_code == 202


def test_exchange_override_needs_saved_membership(start_mock: Start) -> None:
    api = faulty(start_mock, "exchange-override-needs-saved-membership")
    auth_id = api.funded_user(10)
    refused = exchange(api, auth_id, 404, 1, brandB_membership_number=ETIHAD)
    assert refused.status_code == 400 and refused.json()["error"]
    assert api.balance(auth_id) == 10
    api.post(f"/users/{auth_id}/memberships", json={"membership": {"brand_id": "etihad",
                                                                   "membership_number": ETIHAD}})
    assert exchange(api, auth_id, 404, 1, brandB_membership_number="100014486283").status_code == 202


def test_user_empty_auth_id_kept(start_mock: Start) -> None:
    api = faulty(start_mock, "user-empty-auth-id-kept")
    empty = api.new_user(auth_id="")["auth_id"]
    assert re.fullmatch(r"user-\d+", empty)
    assert api.new_user(auth_id="")["auth_id"] != empty
    assert uuid.UUID(api.new_user()["auth_id"]).version == 4  # omitted: still a UUID v4


def test_membership_list_unknown_user_200(start_mock: Start) -> None:
    api = faulty(start_mock, "membership-list-unknown-user-200")
    resp = api.get("/users/nobody-here/memberships")
    assert resp.status_code == 200 and resp.json() == {"data": []}
    assert api.get("/users/nobody-here/memberships/etihad").status_code == 404
    create = {"membership": {"brand_id": "etihad", "membership_number": ETIHAD}}
    assert api.post("/users/nobody-here/memberships", json=create).status_code == 404


def test_user_update_ignores_second_name(start_mock: Start) -> None:
    api = faulty(start_mock, "user-update-ignores-second-name")
    user = api.new_user(first_name="Ann", second_name="Lee")
    for method in ("PUT", "PATCH"):
        resp = api.request(method, f"/users/{user['auth_id']}",
                           json={"user": {"first_name": method, "second_name": "Smith"}})
        assert resp.status_code == 200
        assert resp.json()["data"] == {**user, "first_name": method, "second_name": "Lee"}


def test_whitelist_lists_inactive(start_mock: Start) -> None:
    api = faulty(start_mock, "whitelist-lists-inactive")
    pairs = api.get("/token-exchange-whitelist").json()["data"]
    assert len(pairs) == len(PAIRS) + len(INACTIVE_PAIRS)
    paused = [p for p in pairs if p["status"] != "active"]
    assert [(p["id"], p["status"], p["from_token"]["id"], p["to_token"]["id"]) for p in paused] == [
        (2109, "paused", 202, 303)
    ]
    assert paused[0]["from_token"]["name"] == "SKYLINE POINT"  # real tokens
    auth_id = api.funded_user(10)
    assert exchange(api, auth_id, 202, 2).status_code == 202
    api.wait_settled(auth_id)
    along_paused = api.tx(type="exchange", user_auth_id=auth_id, brandA_token_id=202, brandB_token_id=303,
                          amount=1)
    assert along_paused.status_code == 400  # listed, yet still not exchangeable


def test_default_whitelist_has_an_inbound_one_way_pair(mock_api: MockApi) -> None:
    assert inbound_one_way_pair_ids() == {2108}
    edges = {(p["from_token"]["id"], p["to_token"]["id"], p["status"])
             for p in mock_api.get("/token-exchange-whitelist").json()["data"]}
    assert (808, 101, "active") in edges and not any(e[:2] == (101, 808) for e in edges)
    assert all(status == "active" for *_, status in edges)
    auth_id = mock_api.funded_user(10)
    refused = exchange(mock_api, auth_id, 808, 4)
    assert refused.status_code == 400 and mock_api.balance(auth_id) == 10


def test_exchange_reverse_of_inbound_allowed(start_mock: Start) -> None:
    api = faulty(start_mock, "exchange-reverse-of-inbound-allowed")
    auth_id = api.funded_user(10)
    assert exchange(api, auth_id, 808, 4).status_code == 202
    assert api.balance(auth_id) == 6
    assert exchange(api, auth_id, 303, 1).status_code == 202  # the listed outbound pair
    api.wait_settled(auth_id)
    back = api.tx(type="exchange", user_auth_id=auth_id, brandA_token_id=303, brandB_token_id=101, amount=1)
    assert back.status_code == 400  # the reverse of an outbound one-way pair stays refused


def test_settlement_refund_row_only(start_mock: Start) -> None:
    api = faulty(start_mock, "settlement-refund-row-only")
    auth_id = api.funded_user(20)
    resp = exchange(api, auth_id, 707, 5)
    assert resp.status_code == 202
    rows = api.wait_settled(auth_id)
    row = next(r for r in rows if r["id"] == resp.json()["data"]["id"])
    assert row["status"] == "failed"  # shown as the mock shows a reversal
    assert api.balance(auth_id) == 15  # but the 5 points never came back


def test_race_merged_exchanges(start_mock: Start) -> None:
    api = faulty(start_mock, "race-merged-exchanges")
    auth_id = api.funded_user(100)
    first = exchange(api, auth_id, 202, 2)
    second = exchange(api, auth_id, 202, 3)
    assert first.status_code == second.status_code == 202
    assert first.json()["data"]["id"] == second.json()["data"]["id"]
    assert api.balance(auth_id) == 95  # both debited
    time.sleep(0.08)
    third = exchange(api, auth_id, 202, 4)
    assert third.json()["data"]["id"] != first.json()["data"]["id"]
    rows = api.wait_settled(auth_id)
    burned = [int(r["points_burned"]) for r in rows if r["loyalty_event_type"] == "exchange"]
    assert sorted(burned) == [2, 4]  # two rows for three 202s: 3 points burned without a row
    assert api.balance(auth_id) == 91


def test_history_filtered_short_pages(start_mock: Start) -> None:
    api = faulty(start_mock, "history-filtered-short-pages")
    auth_id = api.funded_user(100)  # oldest row: a credit
    debit = {"type": "debit_points", "user_auth_id": auth_id, "token_id": 101, "amount": 1}
    for _ in range(2):
        for _ in range(2):
            assert api.tx(**debit).status_code == 202
        api.credit(auth_id, 1)
    # newest first: credit, debit, debit, credit, debit, debit, credit
    page = api.get("/transactions", params={"user_auth_id": auth_id, "types": "credit_points", "limit": 2})
    data = page.json()["data"]
    assert data["total_tx_count"] == 3 and len(data["transactions"]) == 1  # short, though more follow
    walked = []
    for offset in range(0, 6, 2):
        walked += api.history(user_auth_id=auth_id, types="credit_points", limit=2, offset=offset)
    assert len(walked) == 2  # a walk by limit/offset misses one of the 3 rows
    assert len(api.history(user_auth_id=auth_id, limit=2)) == 2  # user_auth_id alone: unaffected
    assert len(api.history(token_id=101, limit=2)) <= 2


def test_stateful_deleted_membership_served(start_mock: Start) -> None:
    api = faulty(start_mock, "stateful-deleted-membership-served")
    auth_id = api.new_user()["auth_id"]
    path = f"/users/{auth_id}/memberships"
    api.post(path, json={"membership": {"brand_id": "etihad", "membership_number": ETIHAD}})
    deleted = api.delete(f"{path}/etihad")
    assert deleted.status_code == 204
    stale = api.get(f"{path}/etihad")
    assert stale.status_code == 200 and stale.json()["data"]["membership_number"] == ETIHAD
    assert api.get(path).json()["data"] == []
    assert api.delete(f"{path}/etihad").status_code == 404
