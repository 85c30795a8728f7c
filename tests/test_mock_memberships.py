"""Memberships, whitelist and balances rules of the reference mock."""

from __future__ import annotations

import pytest

from tests.conftest import MockApi

ETIHAD_SANDBOX = ("100014486294", "100014486283")
VALID = {"etihad": "100014486294", "miles_and_more": "992123456789015", "alaska": "12345678"}


def _create(api: MockApi, auth_id: str, provider: str, number: object) -> tuple[int, dict[str, object]]:
    resp = api.post(
        f"/users/{auth_id}/memberships",
        json={"membership": {"brand_id": provider, "membership_number": number}},
    )
    return resp.status_code, (resp.json() if resp.content else {})


def test_create_get_list_and_replace(mock_api: MockApi) -> None:
    auth_id = mock_api.new_user()["auth_id"]
    assert mock_api.get(f"/users/{auth_id}/memberships").json() == {"data": []}
    for number in ETIHAD_SANDBOX:
        status, body = _create(mock_api, auth_id, "etihad", number)
        assert status == 201
        assert body["data"] == {
            "membership_number": number,
            "brand": {"id": "etihad", "name": "Etihad", "locations": [], "brand_config": None},
        }
    one = mock_api.get(f"/users/{auth_id}/memberships/etihad").json()["data"]
    assert one["membership_number"] == ETIHAD_SANDBOX[1]
    listed = mock_api.get(f"/users/{auth_id}/memberships").json()["data"]
    assert [m["membership_number"] for m in listed] == [ETIHAD_SANDBOX[1]]


@pytest.mark.parametrize("provider", sorted(VALID))
def test_each_airline_accepts_its_format(mock_api: MockApi, provider: str) -> None:
    auth_id = mock_api.new_user()["auth_id"]
    assert _create(mock_api, auth_id, provider, VALID[provider])[0] == 201


@pytest.mark.parametrize(
    ("provider", "number"),
    [("etihad", ""), ("etihad", "100014486295"), ("etihad", "10001448629A"), ("etihad", "1" * 300),
     ("miles_and_more", "992123456789016"), ("miles_and_more", "abc"), ("alaska", "1234567"),
     ("alaska", "12345678901"), ("alaska", "ABCDEFGH"), ("etihad", 100014486294)],
)
def test_malformed_numbers_are_400(mock_api: MockApi, provider: str, number: object) -> None:
    auth_id = mock_api.new_user()["auth_id"]
    status, body = _create(mock_api, auth_id, provider, number)
    assert status == 400 and body["error"]


def test_brand_own_id_needs_auth_id(mock_api: MockApi) -> None:
    auth_id = mock_api.new_user()["auth_id"]
    brand = mock_api.mock.brand_id
    assert _create(mock_api, auth_id, brand, "someone-else")[0] == 400
    status, body = _create(mock_api, auth_id, brand, auth_id)
    assert status == 201 and body["data"]["brand"]["id"] == brand  # type: ignore[index]


def test_unknown_provider_and_unknown_user(mock_api: MockApi) -> None:
    auth_id = mock_api.new_user()["auth_id"]
    assert _create(mock_api, auth_id, "lufthansa", "12345678")[0] == 400
    assert _create(mock_api, "nobody-here", "etihad", ETIHAD_SANDBOX[0])[0] == 404
    assert mock_api.get(f"/users/{auth_id}/memberships/lufthansa").status_code == 400
    assert mock_api.get("/users/nobody-here/memberships").status_code == 404
    assert mock_api.get(f"/users/{auth_id}/memberships/etihad").status_code == 404


def test_delete_then_404(mock_api: MockApi) -> None:
    auth_id = mock_api.new_user()["auth_id"]
    _create(mock_api, auth_id, "alaska", "12345678")
    resp = mock_api.delete(f"/users/{auth_id}/memberships/alaska")
    assert resp.status_code == 204 and resp.content == b""
    assert mock_api.get(f"/users/{auth_id}/memberships/alaska").status_code == 404
    assert mock_api.delete(f"/users/{auth_id}/memberships/alaska").status_code == 404
    assert mock_api.delete(f"/users/{auth_id}/memberships/lufthansa").status_code == 400


def test_whitelist_shape_and_filters(mock_api: MockApi) -> None:
    pairs = mock_api.get("/token-exchange-whitelist").json()["data"]
    assert len(pairs) == 8  # 2101-2108 (2108: the inbound one-way 808 -> 101)
    for pair in pairs:
        assert pair["status"] == "active"
        assert set(pair) == {"id", "from_token", "to_token", "status", "max_usd_exchange_limit",
                             "min_usd_exchange_limit", "timestamp"}
        assert set(pair["to_token"]) == {"id", "address", "metadata", "name", "symbol", "type",
                                         "onramp", "offramp"}
    edges = {(p["from_token"]["id"], p["to_token"]["id"]) for p in pairs}
    assert (101, 303) in edges and (303, 101) not in edges and (202, 101) in edges
    for params in ({"token_to_types": ["miles", "erc721"]}, {"token_to_types[]": ["miles", "erc721"]},
                   {"token_to_types": "miles,erc721"}):
        got = mock_api.get("/token-exchange-whitelist", params=params).json()["data"]
        assert sorted(p["to_token"]["type"] for p in got) == ["erc721", "miles", "miles"]
    bogus = mock_api.get("/token-exchange-whitelist", params={"token_to_types": "bogus"})
    assert bogus.json() == {"data": []}


def test_balances_shape_and_unknown_user(mock_api: MockApi) -> None:
    auth_id = mock_api.new_user()["auth_id"]
    data = mock_api.get(f"/users/{auth_id}/balances").json()["data"]
    assert len(data) == 1 and data[0]["balance"] == 0 and data[0]["token"]["id"] == 101
    assert mock_api.get("/users/nobody-here/balances").status_code == 404
