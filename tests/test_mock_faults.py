"""Fault and variant switches: names are checked at start, and each switch changes its rule."""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import Any

import pytest

from qiibee_conformance.mock.faults import FAULTS
from qiibee_conformance.mock.variants import VARIANTS
from tests.conftest import MockApi

ARCHITECTURE_FAULTS = 42
ARCHITECTURE_VARIANTS = 14


@pytest.mark.parametrize("flag", ["--fault", "--variant"])
def test_unknown_names_exit_2_with_one_line(flag: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "qiibee_conformance.mock", flag, "no-such-thing", "--port", "1"],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no-such-thing" in lines[0]


def test_list_faults_names_every_switch() -> None:
    proc = subprocess.run([sys.executable, "-m", "qiibee_conformance.mock", "--list-faults"],
                          capture_output=True, text=True, timeout=30, check=True)
    assert all(name in proc.stdout for name in [*FAULTS, *VARIANTS])
    assert len(FAULTS) == ARCHITECTURE_FAULTS and len(VARIANTS) == ARCHITECTURE_VARIANTS


def test_a_bundle_of_faults_each_break_their_rule(start_mock: Any) -> None:
    mock = start_mock(faults=[
        "auth-invalid-key-403", "user-email-unvalidated", "user-auth-id-not-uuid4", "users-oldest-first",
        "membership-keeps-first", "membership-delete-200", "whitelist-filter-ignored",
        "balances-unknown-user-200", "exchange-two-way", "exchange-float-math", "nft-floor",
        "history-total-page", "error-empty-body", "settlement-no-reversal", "user-update-upserts",
    ])
    api = MockApi(mock)
    assert api.session.get(mock.base_url + "/users", headers={"X-API-KEY": "bad"}).status_code == 403
    user = api.post("/users", json={"user": {"email": "not an email"}}).json()["data"]
    assert uuid.UUID(user["auth_id"]).version == 1
    assert api.get("/users").json()["data"]["users"][0]["auth_id"] == user["auth_id"]
    second = api.new_user()
    assert api.get("/users").json()["data"]["users"][0]["auth_id"] == user["auth_id"] != second["auth_id"]
    auth_id = second["auth_id"]
    for number in ("100014486294", "100014486283"):
        api.post(f"/users/{auth_id}/memberships",
                 json={"membership": {"brand_id": "etihad", "membership_number": number}})
    kept = api.get(f"/users/{auth_id}/memberships/etihad").json()["data"]["membership_number"]
    assert kept == "100014486294"
    assert api.delete(f"/users/{auth_id}/memberships/etihad").status_code == 200
    assert len(api.get("/token-exchange-whitelist", params={"token_to_types": "miles"}).json()["data"]) == 7
    assert api.get("/users/nobody/balances").status_code == 200
    resp = api.get("/users/nobody")
    assert resp.status_code == 404 and resp.content == b""
    api.credit(auth_id, 100)
    row = api.tx(type="exchange", user_auth_id=auth_id, brandA_token_id=101, brandB_token_id=202, amount=2)
    assert row.json()["data"]["amount_received"] == "6"
    api.wait_settled(auth_id)
    assert api.tx(type="exchange", user_auth_id=auth_id, brandA_token_id=202, brandB_token_id=101,
                  amount=1).status_code == 202
    nft = api.tx(reward_type="points_to_nft_exchange", from_token_id=101, to_token_id=606,
                 user_auth_id=auth_id)
    assert nft.json()["data"]["points_burned"] == "41"
    before = api.balance(auth_id)
    api.tx(type="exchange", user_auth_id=auth_id, brandA_token_id=101, brandB_token_id=707, amount=5)
    api.wait_settled(auth_id)
    assert api.balance(auth_id) == before - 5
    page = api.get("/transactions", params={"limit": 2}).json()["data"]
    assert page["total_tx_count"] == 2
    assert api.put("/users/fresh-one", json={"user": {"email": "f@example.com"}}).status_code == 200
    assert api.get("/users/fresh-one").status_code == 200


def test_all_alternatives_still_behave(start_mock: Any) -> None:
    mock = start_mock(variants=["all-alternatives"])
    api = MockApi(mock)
    user = api.new_user()
    assert user["x_mock_undocumented"]
    auth_id = user["auth_id"]
    assert api.post("/users", json={"user": {"email": user["email"]}}).status_code == 400
    bad = api.post("/users", json={"user": {"email": "bad"}})
    assert bad.status_code == 400 and bad.json()["errors"]["detail"]
    assert api.get("/users/nobody").json()["message"]
    assert api.patch(f"/users/{auth_id}", json={"user": {"auth_id": "other"}}).status_code == 400
    assert api.get("/users", params={"limit": 101}).status_code == 400
    assert api.get("/transactions", params={"user_auth_id": "nobody"}).status_code == 404
    assert api.get("/transactions", params={"types": "bogus"}).status_code == 400
    assert api.get("/token-exchange-whitelist", params={"token_to_types": "bogus"}).status_code == 400
    assert api.get(f"/users/{auth_id}/memberships/lufthansa").status_code == 404
    assert api.tx(type="credit_points", user_auth_id="nobody", token_id=101, amount=1).status_code == 404
    resp = api.tx(type="credit_points", user_auth_id=auth_id, token_id=101, amount=50)
    assert resp.status_code == 202 and resp.content == b""
    resp = api.tx(type="exchange", user_auth_id=auth_id, brandA_token_id=101, brandB_token_id=202, amount=30)
    assert resp.status_code == 202
    assert api.balance(auth_id) == 50  # debited at settlement
    assert api.tx(type="exchange", user_auth_id=auth_id, brandA_token_id=101, brandB_token_id=202,
                  amount=30).status_code == 400  # the pending 30 is held
    rows = api.wait_settled(auth_id)
    assert api.balance(auth_id) == 20
    assert rows[0]["token"]["id"] == "101" and rows[0]["inserted_at"].endswith("Z")
    assert len(api.history(token_id=202)) == 1  # token-filter-both: matches token_to
