"""Points Bank credit/debit, exchange, NFT and settlement rules of the reference mock."""

from __future__ import annotations

import pytest

from tests.conftest import MockApi


def test_credit_and_debit_move_the_balance(mock_api: MockApi) -> None:
    auth_id = mock_api.funded_user(100)
    assert mock_api.balance(auth_id) == 100
    resp = mock_api.tx(type="debit_points", user_auth_id=auth_id, token_id=101, amount="30")
    assert resp.status_code == 202 and resp.json()["data"]["loyalty_event_type"] == "debit_points"
    assert mock_api.balance(auth_id) == 70
    over = mock_api.tx(type="debit_points", user_auth_id=auth_id, token_id=101, amount=71)
    assert over.status_code == 400 and mock_api.balance(auth_id) == 70


@pytest.mark.parametrize("amount", [0, -5, 1.5, "1.0", "2.5", True, "abc", "", None, [], 10**30])
def test_credit_bad_amounts_are_400(mock_api: MockApi, amount: object) -> None:
    auth_id = mock_api.new_user()["auth_id"]
    resp = mock_api.tx(type="credit_points", user_auth_id=auth_id, token_id=101, amount=amount)
    assert resp.status_code == 400 and resp.json()["error"]
    assert mock_api.balance(auth_id) == 0


def test_credit_only_own_token_and_known_user(mock_api: MockApi) -> None:
    auth_id = mock_api.new_user()["auth_id"]
    assert mock_api.tx(type="credit_points", user_auth_id=auth_id, token_id=202, amount=5).status_code == 400
    assert mock_api.tx(type="credit_points", user_auth_id="nobody", token_id=101, amount=5).status_code == 400


def test_exchange_is_exact_floor_and_settles(mock_api: MockApi) -> None:
    auth_id = mock_api.funded_user(100)
    resp = mock_api.tx(type="exchange", user_auth_id=auth_id, brandA_token_id=101, brandB_token_id=202,
                       amount=2)
    assert resp.status_code == 202
    row = resp.json()["data"]
    assert row["status"] == "pending" and row["amount_received"] == "7"  # floats give 6
    assert mock_api.balance(auth_id) == 98
    rows = mock_api.wait_settled(auth_id)
    assert rows[0]["status"] == "success" and rows[0]["points_burned"] == "2"
    assert mock_api.balance(auth_id, 202) == 7


def test_one_way_partner_reverse_is_400_with_points_in_hand(mock_api: MockApi) -> None:
    auth_id = mock_api.funded_user(100)
    assert mock_api.tx(type="exchange", user_auth_id=auth_id, brandA_token_id=101, brandB_token_id=303,
                       amount=3).status_code == 202
    mock_api.wait_settled(auth_id)
    assert mock_api.balance(auth_id, 303) == 15
    back = mock_api.tx(type="exchange", user_auth_id=auth_id, brandA_token_id=303, brandB_token_id=101,
                       amount=5)
    assert back.status_code == 400 and mock_api.balance(auth_id, 303) == 15


def test_rate_override_applies_once(mock_api: MockApi) -> None:
    auth_id = mock_api.funded_user(100)
    over = mock_api.tx(type="exchange", user_auth_id=auth_id, brandA_token_id=101, brandB_token_id=202,
                       amount=10, exchange_rate_override=0.2)
    assert over.json()["data"]["amount_received"] == "2"
    plain = mock_api.tx(type="exchange", user_auth_id=auth_id, brandA_token_id=101, brandB_token_id=202,
                        amount=10)
    assert plain.json()["data"]["amount_received"] == "35"


@pytest.mark.parametrize(
    "fields",
    [
        {"amount": 1000},
        {"user_auth_id": "nobody"},
        {"brandB_token_id": 999},
        {"brandA_token_id": 202, "brandB_token_id": 303},
        {"amount": "2.5"},
        {"amount": 2.5},
        {"amount": 0},
        {"brandA_token_id": "x"},
        {"exchange_rate_override": -1},
    ],
)
def test_exchange_rejections_are_400(mock_api: MockApi, fields: dict[str, object]) -> None:
    auth_id = mock_api.funded_user(50)
    body = {"type": "exchange", "user_auth_id": auth_id, "brandA_token_id": 101, "brandB_token_id": 202,
            "amount": 5, **fields}
    resp = mock_api.tx(**body)
    assert resp.status_code == 400 and resp.json()["error"]
    assert mock_api.balance(auth_id) == 50


def test_miles_need_a_membership_and_override_is_not_saved(mock_api: MockApi) -> None:
    auth_id = mock_api.funded_user(100)
    base = {"type": "exchange", "user_auth_id": auth_id, "brandA_token_id": 101, "brandB_token_id": 404,
            "amount": 4}
    assert mock_api.tx(**base).status_code == 400
    assert mock_api.tx(**base, brandB_membership_number="100014486295").status_code == 400
    mock_api.post(f"/users/{auth_id}/memberships",
                  json={"membership": {"brand_id": "etihad", "membership_number": "100014486294"}})
    resp = mock_api.tx(**base, brandB_membership_number="100014486283")
    assert resp.status_code == 202
    row = resp.json()["data"]
    assert row["amount_received"] == "112" and row["exchange_provider"] == "etihad"
    saved = mock_api.get(f"/users/{auth_id}/memberships/etihad").json()["data"]
    assert saved["membership_number"] == "100014486294"
    assert mock_api.tx(**base).status_code == 202


def test_nft_burns_ceil_and_needs_every_field(mock_api: MockApi) -> None:
    auth_id = mock_api.funded_user(100)
    body = {"reward_type": "points_to_nft_exchange", "from_token_id": 101, "to_token_id": 606,
            "user_auth_id": auth_id}
    for missing in body:
        partial = {k: v for k, v in body.items() if k != missing}
        assert mock_api.tx(**partial).status_code == 400
    resp = mock_api.tx(**body)
    assert resp.status_code == 202 and resp.json()["data"]["points_burned"] == "42"
    assert mock_api.balance(auth_id) == 58
    assert mock_api.tx(**body).status_code == 202
    assert mock_api.tx(**body).status_code == 400  # 16 left
    mock_api.wait_settled(auth_id)
    assert mock_api.balance(auth_id, 606) == 2


def test_failed_external_exchange_is_reversed(mock_api: MockApi) -> None:
    auth_id = mock_api.funded_user(40)
    resp = mock_api.tx(type="exchange", user_auth_id=auth_id, brandA_token_id=101, brandB_token_id=707,
                       amount=10)
    assert resp.status_code == 202 and mock_api.balance(auth_id) == 30
    rows = mock_api.wait_settled(auth_id)
    assert rows[0]["status"] == "failed"
    assert mock_api.balance(auth_id) == 40


def test_unknown_type_and_wrapper_are_400(mock_api: MockApi) -> None:
    assert mock_api.tx(type="refund").status_code == 400
    assert mock_api.tx(reward_type="other").status_code == 400
    assert mock_api.post("/transactions", json={"type": "exchange"}).status_code == 400
