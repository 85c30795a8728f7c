"""Users API rules of the reference mock, over HTTP."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import MockApi


def test_create_with_only_email_generates_uuid4(mock_api: MockApi) -> None:
    resp = mock_api.post("/users", json={"user": {"email": "only.email@example.com"}})
    assert resp.status_code == 201
    user = resp.json()["data"]
    assert user["email"] == "only.email@example.com"
    assert uuid.UUID(user["auth_id"]).version == 4
    assert user["id"] != user["auth_id"]
    got = mock_api.get(f"/users/{user['auth_id']}")
    assert got.status_code == 200 and got.json()["data"] == user


def test_create_keeps_auth_id_and_ignores_id(mock_api: MockApi) -> None:
    auth_id = f"ext-{uuid.uuid4().hex}"
    user = mock_api.new_user(auth_id=auth_id, id="client-chosen", first_name="Jo", metadata={"k": True})
    assert user["auth_id"] == auth_id
    assert user["id"] != "client-chosen"
    assert user["metadata"] == {"k": True} and user["first_name"] == "Jo"
    assert set(user) >= {"id", "email", "auth_id", "first_name", "second_name", "language",
                         "country_ISO", "metadata"}


@pytest.mark.parametrize(
    "email", ["", "plain", "a@b", "a@@b.com", "a b@c.com", "a@b .com", "@b.com", "a@.com", 5, None]
)
def test_invalid_email_is_400(mock_api: MockApi, email: object) -> None:
    resp = mock_api.post("/users", json={"user": {"email": email}})
    assert resp.status_code == 400
    assert resp.json()["error"]


def test_duplicate_auth_id_is_400_and_first_unchanged(mock_api: MockApi) -> None:
    first = mock_api.new_user(auth_id=f"dup-{uuid.uuid4().hex}")
    resp = mock_api.post("/users", json={"user": {"email": "other@example.com", "auth_id": first["auth_id"]}})
    assert resp.status_code == 400
    assert mock_api.get(f"/users/{first['auth_id']}").json()["data"] == first


def test_unknown_user_is_404_with_message(mock_api: MockApi) -> None:
    resp = mock_api.get("/users/no-such-user")
    assert resp.status_code == 404 and resp.json()["error"]


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_update_changes_only_sent_fields_and_never_auth_id(mock_api: MockApi, method: str) -> None:
    user = mock_api.new_user(first_name="Ann", language="en", metadata={"opts_newsletter": True})
    resp = mock_api.request(
        method, f"/users/{user['auth_id']}",
        json={"user": {"second_name": "Smith", "auth_id": "changed", "id": "x"}},
    )
    assert resp.status_code == 200
    data = resp.json()["data"]
    assert data == {**user, "second_name": "Smith"}
    assert mock_api.get(f"/users/{user['auth_id']}").json()["data"] == data
    assert mock_api.get("/users/changed").status_code == 404


def test_update_unknown_user_is_404_without_upsert(mock_api: MockApi) -> None:
    auth_id = f"ghost-{uuid.uuid4().hex}"
    resp = mock_api.put(f"/users/{auth_id}", json={"user": {"email": "ghost@example.com"}})
    assert resp.status_code == 404
    assert mock_api.get(f"/users/{auth_id}").status_code == 404


def test_update_invalid_email_is_400(mock_api: MockApi) -> None:
    user = mock_api.new_user()
    assert mock_api.patch(f"/users/{user['auth_id']}", json={"user": {"email": "bad"}}).status_code == 400
    assert mock_api.get(f"/users/{user['auth_id']}").json()["data"]["email"] == user["email"]


def test_list_newest_first_paging_and_total(start_mock: object) -> None:
    mock = start_mock(seed_users=130)  # type: ignore[operator]
    api = MockApi(mock)
    first = api.get("/users/").json()["data"]
    assert first["limit"] == 100 and first["offset"] == 0 and first["total_count"] == 130
    assert len(first["users"]) == 100
    newest = api.new_user()
    page = api.get("/users", params={"limit": 150}).json()["data"]
    assert page["users"][0]["auth_id"] == newest["auth_id"]
    assert len(page["users"]) == 100 and page["total_count"] == 131
    seen = []
    for offset in range(0, 140, 40):
        seen += [u["auth_id"] for u in api.get("/users", params={"limit": 40, "offset": offset})
                 .json()["data"]["users"]]
    assert len(seen) == 131 == len(set(seen))
    assert api.get("/users", params={"offset": 500}).json()["data"]["users"] == []


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": -1}, {"limit": "ten"}, {"limit": "1.5"}, {"offset": -1}, {"offset": "x"},
     {"from_time": "yesterday"}, {"to_time": "2022-13-45T00:00:00"}],
)
def test_list_bad_params_are_400(mock_api: MockApi, params: dict[str, object]) -> None:
    resp = mock_api.get("/users", params=params)
    assert resp.status_code == 400 and resp.json()["error"]


def test_list_email_like_is_case_insensitive_substring(mock_api: MockApi) -> None:
    tag = uuid.uuid4().hex[:10]
    mock_api.post("/users", json={"user": {"email": f"Mixed.{tag}@Example.com"}})
    for needle in (tag.upper(), f"mixed.{tag}", "EXAMPLE.COM"):
        users = mock_api.get("/users", params={"email_like": needle}).json()["data"]["users"]
        if needle != "EXAMPLE.COM":
            assert [u["email"] for u in users] == [f"Mixed.{tag}@Example.com"]
        else:
            assert users


def test_list_time_window_is_inclusive(mock_api: MockApi) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    user = mock_api.new_user()
    time.sleep(0.01)
    after = datetime.now(UTC)
    for fmt in (
        {"from_time": before.isoformat(), "to_time": after.isoformat()},
        {"from_time": before.strftime("%Y-%m-%dT%H:%M:%SZ")},
        {"from_time": before.replace(tzinfo=None).isoformat()},
    ):
        users = mock_api.get("/users", params=fmt).json()["data"]["users"]
        assert user["auth_id"] in [u["auth_id"] for u in users]
    old = mock_api.get("/users", params={"to_time": before.isoformat()}).json()["data"]
    assert user["auth_id"] not in [u["auth_id"] for u in old["users"]]
