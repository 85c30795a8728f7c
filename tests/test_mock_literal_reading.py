"""The literal-reading variant: a server that reads the documents word for word.

Every behaviour here is a tolerated reading (behaviour-notes.md), so each test
also pins the fail-level rule the variant must still keep.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from qiibee_conformance.embedded import EmbeddedMock
from qiibee_conformance.mock.variants import validate_variants
from tests.conftest import FAST_SETTLE, MockApi

ETIHAD_A, ETIHAD_B = "100014486294", "100014486283"  # the documented sandbox numbers
BAD_PAGING = [
    {"limit": -1}, {"limit": "ten"}, {"limit": "1.5"}, {"offset": -1}, {"offset": "x"},
    {"from_time": "yesterday"}, {"to_time": "2022-13-45T00:00:00"},
]


@pytest.fixture(scope="module")
def literal() -> Iterator[MockApi]:
    """One literal-reading mock for the module (tests only add their own users)."""
    with EmbeddedMock(variants=["literal-reading"], settle_delay=FAST_SETTLE) as mock:
        yield MockApi(mock)


def new_user(api: MockApi, **fields: Any) -> dict[str, Any]:
    """Create a user; the created user comes back as ``{"user": u}`` under this variant."""
    body = {"email": f"lit-{uuid.uuid4().hex[:12]}@example.com", **fields}
    resp = api.post("/users", json={"user": body})
    assert resp.status_code == 201, resp.text
    assert "data" not in resp.json()
    user: dict[str, Any] = resp.json()["user"]
    return user


def settled(api: MockApi, auth_id: str, deadline: float = 5.0) -> list[dict[str, Any]]:
    """The user's rows once none is still "processing"."""
    end = time.monotonic() + deadline
    while True:
        rows = api.history(user_auth_id=auth_id)
        if all(r["status"] != "processing" for r in rows) or time.monotonic() > end:
            return rows
        time.sleep(0.02)


def test_both_new_variants_are_part_of_all_alternatives() -> None:
    assert {"literal-reading", "busy-service"} <= validate_variants(["all-alternatives"])


@pytest.mark.parametrize("path", ["/users", "/transactions"])
@pytest.mark.parametrize("params", BAD_PAGING)
def test_bad_paging_and_times_are_404_with_a_message(
    literal: MockApi, path: str, params: dict[str, object]
) -> None:
    resp = literal.get(path, params=params)
    assert resp.status_code == 404, resp.text
    assert resp.json()["error"]


@pytest.mark.parametrize(
    ("path", "list_key", "count_key"),
    [("/users", "users", "total_count"), ("/transactions", "transactions", "total_tx_count")],
)
def test_limit_zero_is_an_empty_page(literal: MockApi, path: str, list_key: str, count_key: str) -> None:
    auth_id = new_user(literal)["auth_id"]
    literal.credit(auth_id, 5)
    resp = literal.get(path, params={"limit": 0})
    assert resp.status_code == 200
    data = resp.json()["data"]
    assert data[list_key] == [] and data["limit"] == 0 and data[count_key] >= 1


def test_limit_over_100_still_clamps(literal: MockApi) -> None:
    resp = literal.get("/users", params={"limit": 150})
    assert resp.status_code == 200 and resp.json()["data"]["limit"] == 100


def test_email_like_is_case_sensitive(literal: MockApi) -> None:
    tag = uuid.uuid4().hex[:10]
    email = f"Mixed.{tag}@Example.com"
    new_user(literal, email=email)
    found = literal.get("/users", params={"email_like": f"Mixed.{tag}"}).json()["data"]["users"]
    assert [u["email"] for u in found] == [email]  # same case: found (fail-level)
    other_case = literal.get("/users", params={"email_like": f"mixed.{tag}"}).json()["data"]["users"]
    assert other_case == []


def test_put_replaces_the_user_and_patch_stays_partial(literal: MockApi) -> None:
    user = new_user(literal, first_name="Ann", second_name="Lee", language="en", country_ISO="usa",
                    metadata={"opts_newsletter": True})
    auth_id = user["auth_id"]
    patched = literal.patch(f"/users/{auth_id}", json={"user": {"first_name": "Anna"}})
    assert patched.status_code == 200 and patched.json()["user"] == {**user, "first_name": "Anna"}
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    put = literal.put(f"/users/{auth_id}",
                      json={"user": {"email": email, "second_name": "Smith", "auth_id": "moved"}})
    assert put.status_code == 200
    replaced = put.json()["user"]
    assert replaced == {**user, "email": email, "second_name": "Smith", "first_name": None,
                        "language": None, "country_ISO": None, "metadata": None}
    assert literal.get(f"/users/{auth_id}").json()["data"] == replaced  # GET keeps "data"
    assert literal.get("/users/moved").status_code == 404  # auth_id never changes


def test_put_without_email_is_400_and_changes_nothing(literal: MockApi) -> None:
    user = new_user(literal, first_name="Bo")
    resp = literal.put(f"/users/{user['auth_id']}", json={"user": {"first_name": "Other"}})
    assert resp.status_code == 400 and resp.json()["error"]
    assert literal.get(f"/users/{user['auth_id']}").json()["data"] == user


def test_membership_created_again_is_replaced_with_200(literal: MockApi) -> None:
    auth_id = new_user(literal)["auth_id"]
    path = f"/users/{auth_id}/memberships"
    first = literal.post(path, json={"membership": {"brand_id": "etihad", "membership_number": ETIHAD_A}})
    assert first.status_code == 201
    again = literal.post(path, json={"membership": {"brand_id": "etihad", "membership_number": ETIHAD_B}})
    assert again.status_code == 200 and again.json()["data"]["membership_number"] == "100014486283"
    listed = literal.get(path).json()["data"]
    assert [m["membership_number"] for m in listed] == ["100014486283"]  # still one per provider


def test_statuses_are_processing_success_and_reversed(literal: MockApi) -> None:
    auth_id = new_user(literal)["auth_id"]
    literal.credit(auth_id, 100)
    ok = literal.tx(type="exchange", user_auth_id=auth_id, brandA_token_id=101, brandB_token_id=202, amount=2)
    assert ok.status_code == 202 and ok.json()["data"]["status"] == "processing"
    failing = literal.tx(type="exchange", user_auth_id=auth_id, brandA_token_id=101, brandB_token_id=707,
                         amount=5)
    assert failing.status_code == 202 and failing.json()["data"]["status"] == "processing"
    rows = settled(literal, auth_id)
    by_id = {r["id"]: r["status"] for r in rows}
    assert by_id[ok.json()["data"]["id"]] == "success"
    assert by_id[failing.json()["data"]["id"]] == "reversed"
    assert literal.balance(auth_id) == 98  # the reversed exchange's 5 points came back
    assert literal.balance(auth_id, 202) == 7


def test_composes_with_limit_400_and_auth_id_change_400(start_mock: Callable[..., EmbeddedMock]) -> None:
    api = MockApi(start_mock(variants=["literal-reading", "limit-400", "auth-id-change-400"]))
    assert api.get("/users", params={"limit": 101}).status_code == 400  # limit-400 decides
    assert api.get("/users", params={"limit": -1}).status_code == 404  # literal-reading decides
    assert api.get("/transactions", params={"limit": 0}).status_code == 200
    user = new_user(api)
    moved = api.put(f"/users/{user['auth_id']}", json={"user": {"email": user["email"], "auth_id": "x"}})
    assert moved.status_code == 400  # auth-id-change-400 decides
