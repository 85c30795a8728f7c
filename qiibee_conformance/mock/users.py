"""Users API: create, read, update (PUT and PATCH both partial) and list users.

Under literal-reading PUT is a full replacement (the tolerated other reading);
under busy-service every user created here starts with a sign-up bonus.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from qiibee_conformance.mock.catalogue import BRAND_TOKEN_ID
from qiibee_conformance.mock.state import MockState, read_json, state_of
from qiibee_conformance.mock.store import USER_FIELDS, UserRow
from qiibee_conformance.mock.validation import (
    ApiError,
    is_valid_email,
    metadata_json,
    optional_string,
    page,
    time_us,
    valid_auth_id,
    wrapper,
)

SIGNUP_BONUS = 50  # busy-service: brand points every new user starts with

# request key -> column
FIELD_KEYS: dict[str, str] = {
    "email": "email",
    "first_name": "first_name",
    "second_name": "second_name",
    "language": "language",
    "country_ISO": "country_iso",
    "metadata": "metadata",
}


def new_user_id() -> str:
    """Server-assigned opaque id, deliberately unlike an auth_id."""
    return "usr_" + secrets.token_hex(8)


def _email(st: MockState, u: dict[str, Any], *, validate: bool) -> str:
    value = u.get("email")
    if not isinstance(value, str) or not value:
        raise ApiError("email is required and must be a string")
    if len(value) > 254 or (validate and not is_valid_email(value)):
        raise ApiError(f"invalid email {value!r}")
    return value


def _profile(u: dict[str, Any]) -> dict[str, Any]:
    """The optional profile fields that are present in the body, validated."""
    out: dict[str, Any] = {}
    for key, col in FIELD_KEYS.items():
        if key == "email" or key not in u:
            continue
        out[col] = metadata_json(u) if key == "metadata" else optional_string(u, key)
    return out


def _plain_id(st: MockState) -> str:
    """The user-empty-auth-id-kept fault: a sequential ``user-N`` id, skipping taken ones."""
    while True:
        candidate = f"user-{st.next_plain_id}"
        st.next_plain_id += 1
        if st.store.user_by_auth_id(candidate) is None:
            return candidate


def _create(st: MockState, u: dict[str, Any], auth_id_hint: str | None = None) -> UserRow:
    email = _email(st, u, validate=not st.fault("user-email-unvalidated"))
    raw_auth = auth_id_hint if auth_id_hint is not None else u.get("auth_id")
    if raw_auth == "" and st.fault("user-empty-auth-id-kept"):
        auth_id = _plain_id(st)
    elif raw_auth is None or raw_auth == "":
        auth_id = str(uuid.uuid1() if st.fault("user-auth-id-not-uuid4") else uuid.uuid4())
    else:
        auth_id = valid_auth_id(raw_auth)
        if st.store.user_by_auth_id(auth_id) is not None and not st.fault("user-duplicate-auth-id"):
            raise ApiError(f"a user with auth_id {auth_id!r} already exists")
    if st.variant("duplicate-email-400") and st.store.email_taken(email):
        raise ApiError(f"a user with email {email!r} already exists")
    fields = _profile(u)
    fields["email"] = email
    store = st.store
    with store.transaction():  # the user and its bonus appear together or not at all
        user = store.insert_user(new_user_id(), auth_id, fields)
        if st.variant("busy-service"):
            store.add_balance(user.pk, BRAND_TOKEN_ID, SIGNUP_BONUS)
            store.insert_tx(
                type="credit_points", status="success", user_pk=user.pk, token_id=BRAND_TOKEN_ID,
                token_to_id=None, amount=SIGNUP_BONUS, amount_received=str(SIGNUP_BONUS),
            )
    return user


async def create_user(request: Request) -> Response:
    st = state_of(request)
    u = wrapper(await read_json(request, st), "user")
    return st.user_written(_create(st, u), 201)


async def get_user(request: Request) -> Response:
    st = state_of(request)
    auth_id = request.path_params["auth_id"]
    if st.fault("user-custom-auth-id-unreadable") and not _is_uuid(auth_id):
        # The fault looks users up as if every auth_id were a UUID the server generated.
        raise ApiError("user not found", 404)
    user = st.user_or_404(auth_id)
    return st.ok(st.renderer.user(user))


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


async def update_user(request: Request) -> Response:
    """PUT and PATCH alike: only the fields sent change; auth_id never does.

    Under literal-reading a PUT replaces the user: it needs ``email`` and clears
    every optional field it does not send (PATCH stays partial).
    """
    st = state_of(request)
    auth_id = request.path_params["auth_id"]
    u = wrapper(await read_json(request, st), "user")
    user = st.store.user_by_auth_id(auth_id)
    if user is None:
        if st.fault("user-update-upserts"):
            return st.user_written(_create(st, u, auth_id_hint=auth_id))
        raise ApiError(f"user {auth_id!r} not found", 404)
    replace = request.method == "PUT" and st.variant("literal-reading")
    if replace and "email" not in u:
        raise ApiError("email is required: PUT replaces the whole user")
    changes = _changes(st, u, user.auth_id)
    if replace or st.fault("user-update-replaces"):
        for col in USER_FIELDS:
            if col != "email":
                changes.setdefault(col, None)
    if st.fault("user-update-ignores-second-name"):
        changes.pop("second_name", None)
    st.store.update_user(user.pk, changes)
    st.renderer.forget_user(user.pk)
    fresh = st.store.users_by_pk([user.pk])[user.pk]
    return st.user_written(fresh)


def _changes(st: MockState, u: dict[str, Any], auth_id: str) -> dict[str, Any]:
    """The columns an update sends: the profile fields, the email (validated), never the auth_id."""
    changes = _profile(u)
    if "email" in u:
        email = _email(st, u, validate=not st.fault("user-update-email-unvalidated"))
        if not st.fault("user-update-ignores-email"):
            changes["email"] = email
    new_auth = u.get("auth_id")
    if "auth_id" in u and new_auth != auth_id:
        if st.fault("user-auth-id-mutable"):
            changes["auth_id"] = valid_auth_id(new_auth)
        elif st.variant("auth-id-change-400"):
            raise ApiError("auth_id cannot be changed")
    return changes


async def list_users(request: Request) -> Response:
    st = state_of(request)
    q = request.query_params
    literal = st.variant("literal-reading")
    limit, offset = page(
        q.get("limit"),
        q.get("offset"),
        reject_over_max=st.variant("limit-400"),
        unbounded=st.fault("users-limit-unbounded"),
        literal=literal,
    )
    bad_time = 404 if literal else 400
    rows, total = st.store.list_users(
        email_like=q.get("email_like") or None,
        case_sensitive=literal,
        prefix_only=st.fault("users-email-like-prefix-only"),
        from_us=time_us(q.get("from_time"), "from_time", bad_time),
        to_us=time_us(q.get("to_time"), "to_time", bad_time),
        limit=limit,
        offset=offset,
        oldest_first=st.fault("users-oldest-first"),
        by_email=st.fault("users-email-order"),
    )
    if st.fault("users-total-count-page"):
        total = len(rows)
    if st.fault("users-unsorted-page"):  # the right users, each page in email order
        rows.sort(key=lambda r: r.email.lower())
    items = [st.renderer.user_json(r) for r in rows]
    body = st.renderer.page({"offset": offset, "limit": limit, "total_count": total}, "users", items)
    return st.raw(body)
