"""USR: creating, reading, updating and listing users."""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

from qiibee_conformance.checks.base import check, data_object, describe, ensure, expect_4xx, expect_status
from qiibee_conformance.checks.context import CheckContext, CreatedUser, format_time, parse_time
from qiibee_conformance.checks.history import MICRO_DIGITS, fraction_digits
from qiibee_conformance.client import Response
from qiibee_conformance.findings import Nonconformity

# Fields a target may use to expose when a user was created (none is documented).
CREATED_FIELDS = ("inserted_at", "created_at", "createdAt", "insertedAt", "created")
# Emails no validator accepts (no "@" at all, or empty): anything subtler is the target's choice.
INVALID_EMAILS = ("not-an-email", "missing-at.example.com", "")


def _unknown(ctx: CheckContext) -> str:
    return f"qc-unknown-{ctx.settings.run_id}-a1b2c3"


def _get_user(ctx: CheckContext, auth_id: str) -> tuple[Response, dict[str, Any] | None]:
    response = ctx.client.get(f"/users/{auth_id}")
    data = response.data()
    return response, data if isinstance(data, dict) else None


@check("USR-01")
def create_with_email_only(ctx: CheckContext) -> None:
    email = ctx.email("u")
    response, user = ctx.create_user(email)
    expect_status(response, (201,), "POST /users with only an email")
    data = data_object(response, "POST /users")
    ensure(
        data.get("email") == email, f"created user has email {data.get('email')!r}, sent {email!r}", response
    )
    assert user is not None
    got, body = _get_user(ctx, user.auth_id)
    expect_status(got, (200,), "GET /users/:auth_id of a user just created", response)
    ensure(
        body is not None and body.get("email") == email and body.get("auth_id") == user.auth_id,
        f"GET /users/{user.auth_id} does not return the created user: {describe(got)}",
        response,
        got,
    )


@check("USR-02")
def generated_auth_id_is_uuid4(ctx: CheckContext) -> None:
    response, _ = ctx.create_user(ctx.email("u"))
    expect_status(response, (201,), "POST /users without auth_id")
    auth_id = data_object(response, "POST /users").get("auth_id")
    try:
        parsed = uuid.UUID(str(auth_id))
    except ValueError:
        raise Nonconformity(f"generated auth_id {auth_id!r} is not a UUID", [response]) from None
    ensure(
        parsed.version == 4 and parsed.variant == uuid.RFC_4122,
        f"generated auth_id {auth_id!r} is a UUID version {parsed.version}, not version 4",
        response,
    )


@check("USR-03")
def given_auth_id_kept_and_id_ignored(ctx: CheckContext) -> None:
    auth_id = str(uuid.uuid4())
    sent_id = f"qc-client-id-{ctx.settings.run_id}"
    response, _ = ctx.create_user(ctx.email("u"), auth_id=auth_id, id=sent_id)
    expect_status(response, (201,), "POST /users with auth_id and id")
    data = data_object(response, "POST /users")
    ensure(data.get("auth_id") == auth_id, f"auth_id sent {auth_id!r}, got {data.get('auth_id')!r}", response)
    ensure(
        data.get("id") != sent_id, f"the id sent in the body ({sent_id!r}) was used, not ignored", response
    )
    got, body = _get_user(ctx, auth_id)
    expect_status(got, (200,), "GET /users/:auth_id with the given auth_id", response)
    ensure(body is not None and body.get("auth_id") == auth_id, "GET returns another auth_id", got)
    by_id = ctx.client.get(f"/users/{sent_id}")
    expect_status(by_id, (404,), "GET /users/<the id sent on create> (id is not auth_id)", response)


@check("USR-04")
def invalid_email_on_create(ctx: CheckContext) -> None:
    for email in INVALID_EMAILS:
        expect_status(
            ctx.client.post("/users", {"user": {"email": email}}),
            (400,),
            f"POST /users with invalid email {email!r}",
        )
    # Documented as 400 is only the invalid email; a missing field is "invalid input": any 4xx.
    expect_4xx(
        ctx.client.post("/users", {"user": {"first_name": "Ada"}}),
        "POST /users without the mandatory email",
    )


@check("USR-05")
def duplicate_auth_id(ctx: CheckContext) -> None:
    auth_id = str(uuid.uuid4())
    first_email = ctx.email("u")
    first, _ = ctx.create_user(first_email, auth_id=auth_id)
    expect_status(first, (201,), "POST /users with a new auth_id")
    second = ctx.client.post("/users", {"user": {"email": ctx.email("u"), "auth_id": auth_id}})
    expect_status(second, (400,), "POST /users with an auth_id that already exists", first)
    got, body = _get_user(ctx, auth_id)
    ensure(
        body is not None and body.get("email") == first_email,
        f"after a duplicate create the first user changed: {describe(got)}",
        first,
        second,
        got,
    )


@check("USR-06")
def unknown_user_404(ctx: CheckContext) -> None:
    expect_status(ctx.client.get(f"/users/{_unknown(ctx)}"), (404,), "GET /users/<unknown auth_id>")


# USR-07: one field per request, alternating methods; every other field must stay as it was.
# metadata is free-form: only the documented example key is sent and compared.
NEWSLETTER = "metadata.opts_newsletter"
# Emails and country codes may be stored or shown in another case.
CASELESS = ("email", "country_ISO")


def _shown(body: dict[str, Any] | None, key: str) -> Any:
    """The value a user body shows for ``key`` (``NEWSLETTER`` reads inside metadata)."""
    body = body or {}
    if key != NEWSLETTER:
        return body.get(key)
    metadata = body.get("metadata")
    return metadata.get("opts_newsletter") if isinstance(metadata, dict) else None


def _same(key: str, got: Any, want: Any) -> bool:
    if key in CASELESS:
        return isinstance(got, str) and got.casefold() == str(want).casefold()
    return type(got) is type(want) and got == want


def _wrong(body: dict[str, Any] | None, expected: dict[str, Any]) -> dict[str, Any]:
    """The expected fields a user body shows differently: key -> value shown."""
    return {k: _shown(body, k) for k, v in expected.items() if not _same(k, _shown(body, k), v)}


def _expect(change: dict[str, Any]) -> dict[str, Any]:
    """What a sent change should make the user show, keyed as ``_wrong`` reads it."""
    expected = dict(change)
    if "metadata" in expected:
        expected[NEWSLETTER] = expected.pop("metadata")["opts_newsletter"]
    return expected


def _update_step(
    ctx: CheckContext,
    method: str,
    auth_id: str,
    change: dict[str, Any],
    expected: dict[str, Any],
    before: Response,
) -> Response:
    """Send one change; 200 with the user showing it and every other field unchanged."""
    response = ctx.client.request(method, f"/users/{auth_id}", json_body={"user": change})
    expect_status(response, (200,), f"{method} /users/:auth_id with {change}", before)
    expected.update(_expect(change))
    wrong = _wrong(data_object(response, f"{method} /users/:auth_id"), expected)
    ensure(
        not wrong,
        f"{method} with {change} answered a user showing {wrong}; expected {expected} "
        "(the field sent changed, every other field as it was)",
        before,
        response,
    )
    return response


@check("USR-07")
def update_changes_only_sent_fields(ctx: CheckContext) -> None:
    """Every field but auth_id is updatable, and only the one sent may change."""
    email = ctx.email("u")
    created, user = ctx.create_user(
        email, first_name="Ada", second_name="Lovelace", language="en", metadata={"opts_newsletter": False}
    )
    expect_status(created, (201,), "POST /users")
    assert user is not None
    expected = {
        "first_name": "Ada",
        "second_name": "Lovelace",
        "language": "en",
        "email": email,
        NEWSLETTER: False,
    }
    steps: list[tuple[str, dict[str, Any]]] = [
        ("PUT", {"first_name": "Grace"}),
        ("PATCH", {"language": "it"}),
        # A fresh address of the run: valid, lower case, no duplicate.
        ("PATCH", {"email": ctx.email("ue").lower()}),
        ("PUT", {"metadata": {"opts_newsletter": True}}),
        # The documents' own example value; the user was created without a country.
        ("PATCH", {"country_ISO": "usa"}),
    ]
    evidence = [created]
    for method, change in steps:
        evidence.append(_update_step(ctx, method, user.auth_id, change, expected, evidence[-1]))
    got, body = _get_user(ctx, user.auth_id)
    expect_status(got, (200,), "GET /users/:auth_id after the updates", *evidence)
    wrong = _wrong(body, expected)
    ensure(not wrong, f"after the updates GET shows {wrong}; expected {expected}", *evidence, got)


@check("USR-08")
def auth_id_cannot_change(ctx: CheckContext) -> None:
    user = ctx.new_user("u")
    for method in ("PUT", "PATCH"):
        other = str(uuid.uuid4())
        response = ctx.client.request(method, f"/users/{user}", json_body={"user": {"auth_id": other}})
        expect_status(response, (200, 400), f"{method} /users/:auth_id with a new auth_id")
        if response.status == 200:
            got = data_object(response, f"{method} /users/:auth_id").get("auth_id")
            ensure(got == user, f"{method} answered 200 with auth_id {got!r} (was {user!r})", response)
        still, _ = _get_user(ctx, user)
        expect_status(still, (200,), f"GET the user by its original auth_id after {method}", response)
        moved = ctx.client.get(f"/users/{other}")
        expect_status(moved, (404,), f"GET the user by the auth_id {method} tried to set", response)


@check("USR-09")
def update_unknown_user(ctx: CheckContext) -> None:
    for method in ("PUT", "PATCH"):
        unknown = f"{_unknown(ctx)}-{method.lower()}"
        response = ctx.client.request(
            method, f"/users/{unknown}", json_body={"user": {"email": ctx.email("u")}}
        )
        expect_status(response, (404,), f"{method} /users/<unknown auth_id>")
        after = ctx.client.get(f"/users/{unknown}")
        expect_status(after, (404,), f"GET /users/<unknown> after {method} (no upsert)", response)


@check("USR-10")
def invalid_email_on_update(ctx: CheckContext) -> None:
    user = ctx.new_user("u")
    for method in ("PUT", "PATCH"):
        response = ctx.client.request(method, f"/users/{user}", json_body={"user": {"email": "not-an-email"}})
        expect_status(response, (400,), f"{method} /users/:auth_id with an invalid email")


# Listing -------------------------------------------------------------------------------------------
def list_users(ctx: CheckContext, **params: Any) -> tuple[Response, list[dict[str, Any]], Any]:
    """GET /users → (response, users, total_count); a malformed 200 body is a Nonconformity."""
    response = ctx.client.get("/users", params=params)
    if response.status != 200:
        return response, [], None
    data = data_object(response, "GET /users")
    users = data.get("users")
    if not isinstance(users, list):
        raise Nonconformity(f"GET /users has no users list: {describe(response)}", [response])
    return response, [u for u in users if isinstance(u, dict)], data.get("total_count")


def _created_time(user: dict[str, Any]) -> Any:
    for key in CREATED_FIELDS:
        parsed = parse_time(user.get(key))
        if parsed is not None:
            return parsed
    return None


# Created in this order, over a second apart: newest first lists them a, z, m, which neither
# email order gives (ascending a, m, z; descending z, m, a).
ORDER_TAGS = ("ordm", "ordz", "orda")


def _ordered_users(ctx: CheckContext) -> list[CreatedUser]:
    """Users created in ORDER_TAGS order, each over a second after the one before."""
    made: list[CreatedUser] = []
    for tag in ORDER_TAGS:
        if made:
            wait = 1.1 - (time.monotonic() - made[-1].finished)
            if wait > 0:
                time.sleep(wait)
        made.append(ctx.new_user_full(tag))
    return made


@check("USR-11")
def newest_first(ctx: CheckContext) -> None:
    default, page, total = list_users(ctx)
    expect_status(default, (200,), "GET /users")
    if isinstance(total, int):
        ensure(
            len(page) == min(100, total),
            f"GET /users without limit returned {len(page)} users of {total} (default limit is 100)",
            default,
        )
    ordered = _ordered_users(ctx)
    fragment = ctx.settings.run_id
    position: dict[object, int] = {}
    listed: list[dict[str, Any]] = []
    evidence: list[Response] = []
    for offset in range(0, 1000, 100):
        response, chunk, _ = list_users(ctx, email_like=fragment, limit=100, offset=offset)
        expect_status(response, (200,), f"GET /users?email_like={fragment}&offset={offset}")
        evidence.append(response)
        position.update({u.get("auth_id"): offset + i for i, u in enumerate(chunk)})
        listed += chunk
        if len(chunk) < 100 or all(u.auth_id in position for u in ordered):
            break
    missing = [u.auth_id for u in ordered if u.auth_id not in position]
    ensure(not missing, f"users created by this run are missing from the list: {missing}", *evidence)
    # Newest first: a user created more than a second after another must be listed before it.
    for older, newer in itertools.pairwise(ordered):
        if position[newer.auth_id] > position[older.auth_id]:
            raise Nonconformity(
                f"user {newer.auth_id} was created {newer.started - older.finished:.1f} s after "
                f"{older.auth_id} but is listed after it (the list must be newest first)",
                evidence,
            )
    response = evidence[-1]
    times = [_created_time(u) for u in listed]
    for i in range(len(times) - 1):
        a, b = times[i], times[i + 1]
        if a is not None and b is not None and a < b:
            raise Nonconformity(f"users listed out of order by creation time: {a} before {b}", [response])


@check("USR-12")
def list_limit_bounds(ctx: CheckContext) -> None:
    ctx.ensure_user_total(101)
    response, users, _ = list_users(ctx, limit=150)
    expect_status(response, (200, 400), "GET /users?limit=150")
    ensure(len(users) <= 100, f"GET /users?limit=150 returned {len(users)} users (maximum 100)", response)
    for params in (
        {"limit": 0},
        {"limit": -1},
        {"limit": "abc"},
        {"limit": "2.5"},
        {"offset": -1},
        {"offset": "abc"},
    ):
        bad = ctx.client.get("/users", params=params)
        expect_status(bad, (400,), f"GET /users with {params}")


def _paged_users(ctx: CheckContext, count: int) -> list[CreatedUser]:
    return ctx.memo("paged-users", lambda: ctx.new_users(count, "pg"))


@check("USR-13")
def total_count_and_walk(ctx: CheckContext) -> None:
    users = _paged_users(ctx, 5)
    fragment = f"{ctx.settings.run_id}-pg"
    expected = sorted(u.auth_id for u in users)
    seen: list[str] = []
    evidence: list[Response] = []
    for offset in range(0, 8, 2):
        response, page, total = list_users(ctx, email_like=fragment, limit=2, offset=offset)
        evidence.append(response)
        expect_status(response, (200,), f"GET /users?email_like=...&limit=2&offset={offset}")
        ensure(
            total == len(users),
            f"total_count is {total!r} but {len(users)} users match email_like={fragment!r}",
            response,
        )
        size = min(2, max(0, len(users) - offset))
        ensure(
            len(page) == size,
            f"limit=2&offset={offset} over {len(users)} matching users returned {len(page)} users, "
            f"expected {size} (limit and offset work as in SQL)",
            response,
        )
        seen += [str(u.get("auth_id")) for u in page]
    stray = sorted(set(seen) - set(expected))
    ensure(not stray, f"walking the pages listed users {stray} that do not match", *evidence)
    _walk_once(ctx, fragment, expected, seen, evidence)


def _walk_once(
    ctx: CheckContext, fragment: str, expected: list[str], seen: list[str], evidence: list[Response]
) -> None:
    """All matching users on one page; the walk lists each once only when the order is total.

    The users are created in parallel and may share a creation time; with ties SQL's
    LIMIT/OFFSET order is not fixed, so a walk may repeat one and skip another.
    """
    response, listed, _ = list_users(ctx, email_like=fragment, limit=100)
    expect_status(response, (200,), f"GET /users?email_like={fragment}&limit=100")
    got = {str(u.get("auth_id")) for u in listed}
    missing = sorted(set(expected) - got)
    ensure(not missing, f"email_like={fragment!r} with limit=100 misses users {missing}", response)
    seconds = {t.replace(microsecond=0) for t in map(_created_time, listed) if t is not None}
    if len(listed) == len(expected) and len(seconds) == len(expected):
        ensure(
            sorted(seen) == expected,
            f"walking the pages (limit 2) gave {sorted(seen)}, expected each of {expected} once "
            "(their creation times all differ)",
            *evidence,
            response,
        )


@check("USR-14")
def email_like_case_insensitive(ctx: CheckContext) -> None:
    users = _paged_users(ctx, 5)
    fragment = f"{ctx.settings.run_id}-pg".upper()
    response, listed, _ = list_users(ctx, email_like=fragment, limit=100)
    expect_status(response, (200,), f"GET /users?email_like={fragment}")
    got = {str(u.get("auth_id")) for u in listed}
    missing = [u.auth_id for u in users if u.auth_id not in got]
    ensure(
        not missing,
        f"email_like={fragment!r} (upper-cased) misses users whose email contains it "
        f"in lower case: {missing}",
        response,
    )
    stray = [u.get("email") for u in listed if fragment.lower() not in str(u.get("email")).lower()]
    ensure(
        not stray, f"email_like={fragment!r} let through emails that do not contain it: {stray[:5]}", response
    )
    middle = ctx.settings.run_id[2:-1]
    response, listed, _ = list_users(ctx, email_like=middle, limit=100)
    stray = [u.get("email") for u in listed if middle.lower() not in str(u.get("email")).lower()]
    ensure(
        not stray, f"email_like={middle!r} let through emails that do not contain it: {stray[:5]}", response
    )
    ensure(
        len(listed) > 0 or response.status != 200,
        f"email_like={middle!r} (a substring of this run's emails) found nothing",
        response,
    )


@check("USR-15")
def time_filters(ctx: CheckContext) -> None:
    users = _paged_users(ctx, 5)
    fragment = f"{ctx.settings.run_id}-pg"
    checks = (
        ({"from_time": "2000-01-01T00:00:00Z", "to_time": "2999-01-01T00:00:00Z"}, len(users)),
        ({"from_time": "2999-01-01T00:00:00Z"}, 0),
        ({"to_time": "2000-01-01T00:00:00Z"}, 0),
    )
    for params, expected in checks:
        response, listed, _ = list_users(ctx, email_like=fragment, limit=100, **params)
        # A window that starts after its default end (now), or ends before its default
        # start (the brand's creation), may be refused as empty: 400 is tolerated there.
        expect_status(response, (200,) if expected else (200, 400), f"GET /users with {params}")
        ensure(
            len(listed) == expected,
            f"GET /users with {params} listed {len(listed)} of this run's users, expected {expected}",
            response,
        )
    # Inclusive bounds, when the target shows creation times.
    response, listed, _ = list_users(ctx, email_like=fragment, limit=100)
    stamped = [(u, _created_time(u)) for u in listed]
    for user, created in stamped[:1]:
        if created is None:
            break
        raw = next(user[k] for k in CREATED_FIELDS if parse_time(user.get(k)) is not None)
        # A shown time may be truncated (to the second, to milliseconds, or 7-9 digits cut
        # by parsing) while the server compares its full precision: the row's own time is
        # then a safe lower bound, but a safe upper bound only when shown to the microsecond.
        keys = ["from_time"]
        if fraction_digits(raw) == MICRO_DIGITS:
            keys.append("to_time")
        # Sent as ISO 8601 with Z, the documented form: a shown time may lack the zone.
        bound = format_time(created)
        for key in keys:
            got, page, _ = list_users(ctx, email_like=fragment, limit=100, **{key: bound})
            expect_status(got, (200,), f"GET /users?{key}={bound} (ISO 8601 with Z)", response)
            ids = {u.get("auth_id") for u in page}
            ensure(
                user.get("auth_id") in ids,
                f"{key}={bound} (the user's own creation time, shown as {raw}) excludes the user: "
                "bounds are inclusive",
                response,
                got,
            )
    for value in ("not-a-time", "2021-13-45T99:99:99Z"):
        for key in ("from_time", "to_time"):
            bad = ctx.client.get("/users", params={key: value})
            expect_status(bad, (400,), f"GET /users?{key}={value}")
