"""Fault and variant switches: names are checked at start, and each switch changes its rule."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from qiibee_conformance.mock.faults import FAULTS
from qiibee_conformance.mock.variants import VARIANTS
from tests.conftest import MockApi

ARCHITECTURE = Path(__file__).resolve().parents[1] / "ARCHITECTURE.md"


def _documented(section: str) -> set[str]:
    """The switch names in the first column of one of ARCHITECTURE.md's tables."""
    text = ARCHITECTURE.read_text(encoding="utf-8").split(section, 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z0-9-]+)`", text, flags=re.MULTILINE))


@pytest.mark.parametrize("flag", ["--fault", "--variant"])
def test_unknown_names_exit_2_with_one_line(flag: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "qiibee_conformance.mock", flag, "no-such-thing", "--port", "1"],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no-such-thing" in lines[0]


def test_dispatcher_mock_subcommand_checks_names() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "qiibee_conformance", "mock", "--fault", "no-such-thing"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "qiibee-conformance mock: error: unknown fault 'no-such-thing' (see --list-faults)"
    ]


def test_list_faults_names_every_switch() -> None:
    proc = subprocess.run([sys.executable, "-m", "qiibee_conformance.mock", "--list-faults"],
                          capture_output=True, text=True, timeout=30, check=True)
    assert all(name in proc.stdout for name in [*FAULTS, *VARIANTS])
    assert set(FAULTS) == _documented("## Mock faults")
    assert set(VARIANTS) == _documented("## Mock variants")


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
    assert len(api.get("/token-exchange-whitelist", params={"token_to_types": "miles"}).json()["data"]) == 8
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


def _settled(api: MockApi, auth_id: str, deadline: float = 10.0) -> list[dict[str, Any]]:
    """``wait_settled`` that also knows literal-reading's in-flight name ("processing")."""
    end = time.monotonic() + deadline
    while True:
        rows = api.history(user_auth_id=auth_id)
        if all(r["status"] not in ("pending", "processing") for r in rows) or time.monotonic() > end:
            return rows
        time.sleep(0.03)


def test_all_alternatives_still_behave(start_mock: Any) -> None:
    mock = start_mock(variants=["all-alternatives"])
    api = MockApi(mock)
    created = api.post("/users", json={"user": {"email": f"t-{uuid.uuid4().hex[:12]}@example.com"}})
    assert created.status_code == 201
    user = created.json()["user"]  # literal-reading: {"user": u}
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
    # busy-service: 50 sign-up bonus + 50 credited = 100, so two exchanges of 60 (not 30)
    resp = api.tx(type="exchange", user_auth_id=auth_id, brandA_token_id=101, brandB_token_id=202, amount=60)
    assert resp.status_code == 202
    assert api.balance(auth_id) == 100  # debited at settlement
    assert api.tx(type="exchange", user_auth_id=auth_id, brandA_token_id=101, brandB_token_id=202,
                  amount=60).status_code == 202  # no-pending-hold: the pending 60 is not held back
    rows = _settled(api, auth_id)
    assert api.balance(auth_id) == 40  # the second exchange failed when it settled
    statuses = sorted(r["status"] for r in rows if r["loyalty_event_type"] == "exchange")
    assert statuses == ["reversed", "success"]
    assert rows[0]["token"]["id"] == "101" and rows[0]["inserted_at"].endswith("Z")
    assert len(api.history(token_id=202)) == 2  # token-filter-both: matches token_to (both exchanges)


def test_debit_at_settlement_holds_pending_exchanges(start_mock: Any) -> None:
    api = MockApi(start_mock(variants=["debit-at-settlement"]))
    auth_id = api.new_user()["auth_id"]
    assert api.tx(type="credit_points", user_auth_id=auth_id, token_id=101, amount=50).status_code == 202
    exchange = {"type": "exchange", "user_auth_id": auth_id, "brandA_token_id": 101, "brandB_token_id": 202}
    assert api.tx(**exchange, amount=30).status_code == 202
    assert api.balance(auth_id) == 50  # debited at settlement
    assert api.tx(**exchange, amount=30).status_code == 400  # the pending 30 is held
    api.wait_settled(auth_id)
    assert api.balance(auth_id) == 20


def test_a_second_bundle_of_faults(start_mock: Any) -> None:
    mock = start_mock(faults=[
        "auth-missing-key-accepted", "malformed-json-500", "user-duplicate-auth-id", "user-update-replaces",
        "user-auth-id-mutable", "users-limit-unbounded", "users-total-count-page",
        "users-email-like-prefix-only", "membership-number-unvalidated",
        "membership-unknown-provider-accepted", "debit-overdraw", "exchange-round-nearest",
        "exchange-override-stored", "exchange-overdraw", "exchange-decimal-amount",
        "exchange-membership-override-stored", "settlement-stuck", "history-oldest-first",
        "history-limit-unbounded", "history-offset-skip", "history-user-filter-ignored",
        "history-types-ignored", "history-token-filter-ignored",
    ], seed_users=160)
    api = MockApi(mock)
    assert api.session.get(mock.base_url + "/users", headers={"X-API-KEY": ""}).status_code == 200
    assert api.post("/users", data=b"{").status_code == 500
    user = api.new_user(auth_id="twin", first_name="A", language="en")
    assert api.post("/users", json={"user": {"email": "b@example.com", "auth_id": "twin"}}).status_code == 201
    data = api.put("/users/twin", json={"user": {"first_name": "B", "auth_id": "moved"}}).json()["data"]
    assert data["language"] is None and data["auth_id"] == "moved"
    listed = api.get("/users", params={"limit": 150}).json()["data"]
    assert len(listed["users"]) == 150 and listed["total_count"] == 150
    assert api.get("/users", params={"email_like": user["email"][1:]}).json()["data"]["users"] == []
    auth_id = api.new_user()["auth_id"]
    for provider, number in (("etihad", "nonsense"), ("lufthansa", "1")):
        resp = api.post(f"/users/{auth_id}/memberships",
                        json={"membership": {"brand_id": provider, "membership_number": number}})
        assert resp.status_code == 201
    api.credit(auth_id, 10)
    assert api.tx(type="debit_points", user_auth_id=auth_id, token_id=101, amount=11).status_code == 202
    api.credit(auth_id, 100)
    base = {"type": "exchange", "user_auth_id": auth_id, "brandA_token_id": 101, "brandB_token_id": 202}
    assert api.tx(**base, amount=7).json()["data"]["amount_received"] == "25"  # 24.5 rounded up
    assert api.tx(**base, amount="2.5").json()["data"]["points_burned"] == "2"
    assert api.tx(**base, amount=10, exchange_rate_override=0.2).status_code == 202
    assert api.tx(**base, amount=10).json()["data"]["amount_received"] == "2"  # override stuck
    assert api.tx(**base, amount=10_000).status_code == 202
    api.post(f"/users/{auth_id}/memberships",
             json={"membership": {"brand_id": "etihad", "membership_number": "100014486294"}})
    api.tx(type="exchange", user_auth_id=auth_id, brandA_token_id=101, brandB_token_id=404, amount=1,
           brandB_membership_number="100014486283")
    saved = api.get(f"/users/{auth_id}/memberships/etihad").json()["data"]["membership_number"]
    assert saved == "100014486283"
    time.sleep(0.3)
    rows = api.history(user_auth_id=auth_id, limit=200)
    assert all(r["status"] == "pending" for r in rows if r["loyalty_event_type"] == "exchange")
    assert rows[0]["id"] < rows[-1]["id"]  # oldest first
    everyone = api.get("/transactions", params={"user_auth_id": "nobody", "types": "bogus", "token_id": 5})
    assert everyone.json()["data"]["total_tx_count"] == len(rows)  # offset 0 skips nothing
    skipped = api.history(offset=1)
    assert skipped[0]["id"] == rows[2]["id"]  # offset 1 skipped two rows


def test_inverted_rate_fault(start_mock: Any) -> None:
    api = MockApi(start_mock(faults=["exchange-rate-inverted", "history-from-time-exclusive"]))
    auth_id = api.funded_user(100)
    resp = api.tx(type="exchange", user_auth_id=auth_id, brandA_token_id=101, brandB_token_id=202, amount=7)
    assert resp.json()["data"]["amount_received"] == "2"
    shown = resp.json()["data"]["inserted_at"]
    assert resp.json()["data"]["id"] not in [r["id"] for r in api.history(from_time=shown)]
