"""USR: creating, reading, updating and listing users.

Every assertion sits at the level openapi/DECISIONS.md gives its reading: fail-level ones
end the check (``ensure``/``expect_status``), warn-level ones file an advisory and let it
go on (``advise(..., decision=...)``), tolerated choices pass silently. Bodies of create
and update are read in every tolerated shape (D8); GET bodies under ``data`` (D7).
"""

from __future__ import annotations

import contextlib
import itertools
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from qiibee_conformance import run_control
from qiibee_conformance.checks.base import (
    advise,
    check,
    data_object,
    describe,
    ensure,
    expect_4xx,
    expect_status,
)
from qiibee_conformance.checks.context import CheckContext
from qiibee_conformance.checks.target import CreatedUser
from qiibee_conformance.client import Response
from qiibee_conformance.envelopes import user_object
from qiibee_conformance.findings import Nonconformity, Untestable
from qiibee_conformance.times import MICRO_DIGITS, format_time, fraction_digits, parse_time

# Fields a target may use to expose when a user was created (none is documented).
CREATED_FIELDS = ("inserted_at", "created_at", "createdAt", "insertedAt", "created")
# Emails no validator accepts: documented as exactly 400 (D28).
INVALID_EMAILS = ("not-an-email", "missing-at.example.com")
# Bodies without a usable email: a missing mandatory field, any 4xx (D160).
NO_EMAIL_BODIES: tuple[dict[str, Any], ...] = (
    {"user": {"first_name": "Ada"}},
    {"user": {"email": "", "first_name": "Ada"}},
    {"user": {"email": None, "first_name": "Ada"}},
)


def _unknown(ctx: CheckContext) -> str:
    return f"qc-unknown-{ctx.settings.run_id}-a1b2c3"


def _get_user(ctx: CheckContext, auth_id: str) -> tuple[Response, dict[str, Any] | None]:
    """GET one user; the body's ``data`` object (documented, D7) or None."""
    response = ctx.client.get(f"/users/{auth_id}")
    data = response.data()
    return response, data if isinstance(data, dict) else None


def _written(response: Response, what: str) -> dict[str, Any]:
    """The user object a create/update answered, under "data", "user" or bare (D8)."""
    shown = user_object(response.json())
    if shown is None:
        raise Nonconformity(
            f"{what} answered HTTP {response.status} without the user object: {describe(response)}",
            [response],
            expected="the user object (under data, under user, or bare)",
        )
    return shown


def _same_email(got: Any, want: str) -> bool:
    """Emails may be stored or shown in another case."""
    return isinstance(got, str) and got.casefold() == want.casefold()


# Creating ---------------------------------------------------------------------------------------
@check("USR-01")
def create_with_email_only(ctx: CheckContext) -> None:
    email = ctx.email("u")
    response, user = ctx.api.create_user(email)
    expect_status(response, (201,), "POST /users with only an email")
    shown = _written(response, "POST /users")
    ensure(
        _same_email(shown.get("email"), email),
        f"created user has email {shown.get('email')!r}, sent {email!r}",
        response,
    )
    ensure(user is not None, f"POST /users answered a user with no auth_id: {describe(response)}", response)
    assert user is not None
    got, body = _get_user(ctx, user.auth_id)
    expect_status(got, (200,), "GET /users/:auth_id of a user just created", response)
    ensure(
        body is not None and _same_email(body.get("email"), email) and body.get("auth_id") == user.auth_id,
        f'GET /users/{user.auth_id} does not return the created user under "data": {describe(got)}',
        response,
        got,
    )


def _ensure_uuid4(auth_id: Any, label: str, response: Response) -> None:
    try:
        parsed = uuid.UUID(str(auth_id))
    except ValueError:
        raise Nonconformity(
            f"auth_id generated for a create {label} is {auth_id!r}, not a UUID", [response]
        ) from None
    ensure(
        parsed.version == 4 and parsed.variant == uuid.RFC_4122,
        f"auth_id generated for a create {label} is {auth_id!r}, a UUID version {parsed.version}, "
        "not version 4",
        response,
    )


@check("USR-02")
def generated_auth_id_is_uuid4(ctx: CheckContext) -> None:
    """Omitted or sent empty, the auth_id is generated (documented: "leave the auth_id field empty")."""
    cases: tuple[tuple[str, dict[str, Any]], ...] = (
        ("without auth_id", {}),
        ('with "auth_id": ""', {"auth_id": ""}),
    )
    for label, fields in cases:
        response, _ = ctx.api.create_user(ctx.email("u"), **fields)
        expect_status(response, (201,), f"POST /users {label}")
        auth_id = _written(response, f"POST /users {label}").get("auth_id")
        _ensure_uuid4(auth_id, label, response)
        got, body = _get_user(ctx, str(auth_id))
        expect_status(got, (200,), f"GET /users/<the auth_id generated {label}>", response)
        ensure(
            body is not None and body.get("auth_id") == auth_id,
            f"GET /users/{auth_id} shows another auth_id: {describe(got)}",
            response,
            got,
        )


def _create_with_id(ctx: CheckContext, sent_id: str) -> tuple[Response, str, bool]:
    """Create with an auth_id and an ``id``; if the id is refused (advisory, D31), without it.

    Returns the accepted create, its auth_id, and whether the id went with it."""
    auth_id = str(uuid.uuid4())
    response, _ = ctx.api.create_user(ctx.email("u"), auth_id=auth_id, id=sent_id)
    if not 400 <= response.status < 500:
        return response, auth_id, True
    advise(
        False,
        f"POST /users with an id in the body was refused, {describe(response)}; the id should be ignored",
        response,
        decision="D31",
        expected="HTTP 201, the id ignored",
        actual=f"HTTP {response.status}",
    )
    auth_id = str(uuid.uuid4())
    response, _ = ctx.api.create_user(ctx.email("u"), auth_id=auth_id)
    return response, auth_id, False


@check("USR-03")
def given_auth_id_kept_and_id_ignored(ctx: CheckContext) -> None:
    sent_id = f"qc-client-id-{ctx.settings.run_id}"
    response, auth_id, with_id = _create_with_id(ctx, sent_id)
    expect_status(response, (201,), "POST /users with an auth_id")
    shown = _written(response, "POST /users")
    ensure(
        shown.get("auth_id") == auth_id, f"auth_id sent {auth_id!r}, got {shown.get('auth_id')!r}", response
    )
    if with_id:
        advise(
            shown.get("id") != sent_id,
            f"the id sent in the create body ({sent_id!r}) was kept, not ignored",
            response,
            decision="D31",
            expected="an id the server assigns",
            actual=f"id {sent_id!r}",
        )
    got, body = _get_user(ctx, auth_id)
    expect_status(got, (200,), "GET /users/:auth_id with the given auth_id", response)
    ensure(
        body is not None and body.get("auth_id") == auth_id,
        f"GET returns another auth_id: {describe(got)}",
        got,
    )
    # id and auth_id are different fields (D19): the id sent never addresses the user.
    by_id = ctx.client.get(f"/users/{sent_id}")
    expect_status(by_id, (404,), "GET /users/<the id sent on create> (an id is not an auth_id)", response)


@check("USR-04")
def invalid_email_on_create(ctx: CheckContext) -> None:
    for email in INVALID_EMAILS:
        expect_status(
            ctx.client.post("/users", {"user": {"email": email}}),
            (400,),
            f"POST /users with invalid email {email!r}",
        )
    # Documented as 400 is only the invalid email; a missing one is a client's mistake: any 4xx.
    for body in NO_EMAIL_BODIES:
        expect_4xx(ctx.client.post("/users", body), f"POST /users without a usable email: {body}")


@check("USR-05")
def duplicate_auth_id(ctx: CheckContext) -> None:
    auth_id = str(uuid.uuid4())
    first_email = ctx.email("u")
    first, _ = ctx.api.create_user(first_email, auth_id=auth_id)
    expect_status(first, (201,), "POST /users with a new auth_id")
    second = ctx.client.post("/users", {"user": {"email": ctx.email("u"), "auth_id": auth_id}})
    expect_status(second, (400,), "POST /users with an auth_id that already exists", first)
    got, body = _get_user(ctx, auth_id)
    ensure(
        body is not None and _same_email(body.get("email"), first_email),
        f"after a duplicate create the first user changed: {describe(got)}",
        first,
        second,
        got,
    )


@check("USR-06")
def unknown_user_404(ctx: CheckContext) -> None:
    expect_status(ctx.client.get(f"/users/{_unknown(ctx)}"), (404,), "GET /users/<unknown auth_id>")


# Updating ---------------------------------------------------------------------------------------
# metadata is free-form: only the documented example key is sent and compared.
NEWSLETTER = "metadata.opts_newsletter"
# Emails and country codes may be stored or shown in another case.
CASELESS = ("email", "country_ISO")
# The fields a full-replacement PUT may clear when it does not send them (D33).
OPTIONAL = ("first_name", "second_name", "language", "country_ISO", NEWSLETTER)


class _Cleared:
    """What a field cleared by a replacing PUT is expected to show: null or empty."""

    def __repr__(self) -> str:
        return "<cleared>"


CLEARED = _Cleared()


def _shown(body: dict[str, Any] | None, key: str) -> Any:
    """The value a user body shows for ``key`` (``NEWSLETTER`` reads inside metadata)."""
    body = body or {}
    if key != NEWSLETTER:
        return body.get(key)
    metadata = body.get("metadata")
    return metadata.get("opts_newsletter") if isinstance(metadata, dict) else None


def _is_cleared(key: str, value: Any) -> bool:
    """Null, empty, or (for the newsletter flag of a reset metadata) false."""
    return value is None or value == "" or (key == NEWSLETTER and value is False)


def _same(key: str, got: Any, want: Any) -> bool:
    if want is CLEARED:
        return _is_cleared(key, got)
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


def _settle_put(shown: dict[str, Any], expected: dict[str, Any], sent: dict[str, Any]) -> None:
    """A PUT may keep or clear the optional fields it did not send (D33): take what it did."""
    for key in OPTIONAL:
        if key not in sent and _is_cleared(key, _shown(shown, key)):
            expected[key] = CLEARED


def _update_step(
    ctx: CheckContext,
    method: str,
    auth_id: str,
    change: dict[str, Any],
    expected: dict[str, Any],
    before: Response,
) -> Response:
    """Send one change: 200 with the user showing it; after a PATCH every other field as it was
    (D32), after a PUT the unsent optional fields as they were or cleared (D33)."""
    body = dict(change)
    if method == "PUT":
        body.setdefault("email", expected["email"])  # a replacing PUT may demand it (D175)
    response = ctx.client.request(method, f"/users/{auth_id}", json_body={"user": body})
    expect_status(response, (200,), f"{method} /users/:auth_id with {body}", before)
    shown = _written(response, f"{method} /users/:auth_id")
    sent = _expect(body)
    expected.update(sent)
    if method == "PUT":
        _settle_put(shown, expected, sent)
    wrong = _wrong(shown, expected)
    rule = "the fields sent stored" + (", every other field as it was" if method == "PATCH" else "")
    ensure(
        not wrong,
        f"{method} with {body} answered a user showing {wrong}; expected {expected} ({rule})",
        before,
        response,
    )
    return response


@check("USR-07")
def update_changes_only_sent_fields(ctx: CheckContext) -> None:
    """Every field but auth_id is updatable: PATCH changes only what it sends; PUT stores what it
    sends and may keep or clear the rest."""
    email = ctx.email("u")
    created, user = ctx.api.create_user(
        email, first_name="Ada", second_name="Lovelace", language="en", metadata={"opts_newsletter": False}
    )
    expect_status(created, (201,), "POST /users")
    ensure(user is not None, f"POST /users answered a user with no auth_id: {describe(created)}", created)
    assert user is not None
    expected: dict[str, Any] = {
        "first_name": "Ada",
        "second_name": "Lovelace",
        "language": "en",
        "email": email,
        NEWSLETTER: False,
    }
    steps: list[tuple[str, dict[str, Any]]] = [
        # PATCH first, while every optional field is set: a PATCH that clears unsent fields shows.
        ("PATCH", {"second_name": "Byron"}),
        ("PATCH", {"language": "it"}),
        # A fresh address of the run: valid, lower case, no duplicate.
        ("PATCH", {"email": ctx.email("ue").lower()}),
        # The documents' own example value; the user was created without a country.
        ("PATCH", {"country_ISO": "usa"}),
        ("PUT", {"first_name": "Grace"}),
        ("PUT", {"second_name": "Hopper"}),
        ("PUT", {"metadata": {"opts_newsletter": True}}),
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
    """Refused (any 4xx; the documents name none) or 200 with the auth_id unchanged (D34)."""
    user = ctx.api.new_user_full("u")
    for method in ("PUT", "PATCH"):
        other = str(uuid.uuid4())
        body: dict[str, Any] = {"auth_id": other}
        if method == "PUT":
            body["email"] = user.email
        response = ctx.client.request(method, f"/users/{user.auth_id}", json_body={"user": body})
        if not 400 <= response.status < 500:
            expect_status(response, (200,), f"{method} /users/:auth_id with a new auth_id")
            got = _written(response, f"{method} /users/:auth_id").get("auth_id")
            ensure(
                got == user.auth_id,
                f"{method} answered 200 with auth_id {got!r} (was {user.auth_id!r})",
                response,
            )
        still, _ = _get_user(ctx, user.auth_id)
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
    """Warn-level (D36): the documents validate the email on create only."""
    user = ctx.api.new_user_full("u")
    for method in ("PUT", "PATCH"):
        response = ctx.client.request(
            method, f"/users/{user.auth_id}", json_body={"user": {"email": "not-an-email"}}
        )
        advise(
            400 <= response.status < 500,
            f"{method} /users/:auth_id with the invalid email 'not-an-email' answered {describe(response)}",
            response,
            decision="D36",
            expected="a 4xx",
            actual=f"HTTP {response.status}",
        )
        got, body = _get_user(ctx, user.auth_id)
        kept = body is not None and _same_email(body.get("email"), user.email)
        advise(
            kept,
            f"after {method} with an invalid email the user shows email {_shown(body, 'email')!r}",
            response,
            got,
            decision="D36",
            expected=f"email {user.email!r} unchanged",
        )


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


def _count(value: Any) -> int | None:
    """A total_count as an integer (a digit string read as one), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _created_time(user: dict[str, Any]) -> datetime | None:
    for key in CREATED_FIELDS:
        parsed = parse_time(user.get(key))
        if parsed is not None:
            return parsed
    return None


def _ids(users: list[dict[str, Any]]) -> list[str]:
    return [str(u.get("auth_id")) for u in users]


# Created in this order, over a second apart: newest first lists them a, z, m, which neither
# email order gives (ascending a, m, z; descending z, m, a). The leading "0" sorts them below
# every other address of the run, so a list sorted by email pushes them off the default page.
ORDER_TAGS = ("0ordm", "0ordz", "0orda")
ORDER_FRAGMENT = "-0ord"
FILL_TOTAL = 101


def _ordered_users(ctx: CheckContext) -> list[CreatedUser]:
    """Users created in ORDER_TAGS order, each over a second after the one before."""
    made: list[CreatedUser] = []
    for tag in ORDER_TAGS:
        if made:
            wait = 1.1 - (time.monotonic() - made[-1].finished)
            if wait > 0:
                run_control.wait(wait)
        made.append(ctx.api.new_user_full(tag))
    return made


def _make_recent(ctx: CheckContext) -> list[CreatedUser]:
    """More than 100 users, then the three ordered ones: the most recent users of the target."""
    # No readable total_count is USR-13's finding: the fill only sharpens USR-11.
    with contextlib.suppress(Untestable):
        ctx.api.ensure_user_total(FILL_TOTAL)
    return _ordered_users(ctx)


def _recent_users(ctx: CheckContext) -> list[CreatedUser]:
    return ctx.memo("recent-users", lambda: _make_recent(ctx))


def _listed_default(ctx: CheckContext) -> tuple[Response, list[dict[str, Any]]]:
    response, page, _ = list_users(ctx)
    expect_status(response, (200,), "GET /users")
    return response, page


def _advise_order(ordered: list[CreatedUser], listings: list[tuple[Response, list[dict[str, Any]]]]) -> None:
    """Newest first (D42), judged on the first listing that shows all the ordered users."""
    for response, page in listings:
        position = {auth_id: i for i, auth_id in enumerate(_ids(page))}
        if not all(u.auth_id in position for u in ordered):
            continue
        for older, newer in itertools.pairwise(ordered):
            if not advise(
                position[newer.auth_id] < position[older.auth_id],
                f"user {newer.auth_id} was created {newer.started - older.finished:.1f} s after "
                f"{older.auth_id} but is listed after it",
                response,
                decision="D42",
                expected="newest first",
            ):
                return
        return


def _advise_times(page: list[dict[str, Any]], response: Response) -> None:
    """Newest first (D42) by the creation times a target shows, if it shows them."""
    times = [_created_time(u) for u in page]
    for a, b in itertools.pairwise(times):
        if a is not None and b is not None and a < b:
            message = f"users listed out of order by creation time: {a} before {b}"
            advise(False, message, response, decision="D42", expected="newest first")
            return


@check("USR-11")
def default_page_holds_the_most_recent(ctx: CheckContext) -> None:
    """The documents: "By default, it returns the last 100 users" (D41). Newest first within the
    page is the reading (D42).

    Only the user created last is demanded on the default page: other clients (schemathesis, in
    the same run) may create users meanwhile, but not a hundred within one round trip."""
    ordered = _recent_users(ctx)
    response, page = _listed_default(ctx)
    newest = ordered[-1]
    ensure(
        newest.auth_id in _ids(page),
        f"the default page (GET /users, {len(page)} users) does not hold the most recent users: "
        f"{newest.auth_id}, the user this run created last, is not on it",
        response,
        expected="the last 100 users",
    )
    fragment = f"{ctx.settings.run_id}{ORDER_FRAGMENT}"
    filtered, listed, _ = list_users(ctx, email_like=fragment, limit=100)
    _advise_order(ordered, [(filtered, listed), (response, page)])
    _advise_times(page, response)


# Paging data every reading refuses (D39): any 4xx, never a 2xx or 5xx. A non-integer offset is
# not listed by the notes, so it is not judged.
BAD_PAGING: tuple[dict[str, Any], ...] = (
    {"limit": -1},
    {"limit": "abc"},
    {"limit": "2.5"},
    {"offset": -1},
)


def _default_limit(ctx: CheckContext) -> None:
    """Without limit the page holds as many users as with limit=100 (D37: "Defaults: 100")."""
    for attempt in (1, 2):
        default, page = _listed_default(ctx)
        ensure(len(page) <= 100, f"GET /users returned {len(page)} users (maximum 100)", default)
        sized, hundred, _ = list_users(ctx, limit=100)
        expect_status(sized, (200,), "GET /users?limit=100")
        if len(page) == len(hundred):
            return
        # With fewer than 100 users, one may have been created between the two reads: read again.
        if len(hundred) == 100 or attempt == 2:
            raise Nonconformity(
                f"GET /users without limit returned {len(page)} users, with limit=100 {len(hundred)} "
                "(the default limit is 100)",
                [default, sized],
            )


@check("USR-12")
def list_limit_bounds(ctx: CheckContext) -> None:
    _recent_users(ctx)  # more than 100 users
    _default_limit(ctx)
    response, users, _ = list_users(ctx, limit=150)
    if not 400 <= response.status < 500:  # a 4xx is tolerated (D38)
        expect_status(response, (200,), "GET /users?limit=150")
        ensure(len(users) <= 100, f"GET /users?limit=150 returned {len(users)} users (maximum 100)", response)
    zero, listed, _ = list_users(ctx, limit=0)
    if not 400 <= zero.status < 500:  # limit=0: a 4xx, or SQL's empty page (D40)
        expect_status(zero, (200,), "GET /users?limit=0")
        ensure(not listed, f"GET /users?limit=0 returned {len(listed)} users (SQL's LIMIT 0 is empty)", zero)
    for params in BAD_PAGING:
        expect_4xx(ctx.client.get("/users", params=params), f"GET /users with {params}")


def _paged_users(ctx: CheckContext, count: int) -> list[CreatedUser]:
    return ctx.memo("paged-users", lambda: ctx.api.new_users(count, "pg"))


def _filtered(ctx: CheckContext, fragment: str, expected: list[str]) -> list[dict[str, Any]]:
    """The users email_like=fragment lists on one page; untestable when the filter itself fails
    (misses a user or lets another through: USR-14's finding)."""
    response, listed, _ = list_users(ctx, email_like=fragment, limit=100)
    expect_status(response, (200,), f"GET /users?email_like={fragment}&limit=100")
    got = set(_ids(listed))
    stray = [u.get("email") for u in listed if fragment.lower() not in str(u.get("email")).lower()]
    if stray or not set(expected) <= got:
        raise Untestable(f"email_like={fragment!r} does not select this run's users (see USR-14)")
    return listed


def _walk(
    ctx: CheckContext, fragment: str, expected: list[str], limit: int, evidence: list[Response]
) -> list[str]:
    """Walk email_like=fragment with ``limit``: SQL page sizes, and total_count never the page
    length (D45; counting every match is D44's advisory). Returns the auth_ids seen."""
    matches = len(expected)
    seen: list[str] = []
    counted = True
    for offset in range(0, matches + limit, limit):
        response, page, raw_total = list_users(ctx, email_like=fragment, limit=limit, offset=offset)
        evidence.append(response)
        expect_status(response, (200,), f"GET /users?email_like={fragment}&limit={limit}&offset={offset}")
        size = min(limit, max(0, matches - offset))
        ensure(
            len(page) == size,
            f"limit={limit}&offset={offset} over {matches} matching users returned {len(page)} users, "
            f"expected {size} (limit and offset work as in SQL)",
            response,
        )
        total = _count(raw_total)
        ensure(
            not (total == len(page) and len(page) < matches),
            f"total_count is {raw_total!r}, the page length, but {matches} users match "
            f"email_like={fragment!r}",
            response,
        )
        if counted:
            counted = advise(
                total == matches,
                f"total_count is {raw_total!r} but {matches} users match email_like={fragment!r}",
                response,
                decision="D44",
                expected=str(matches),
                actual=repr(raw_total),
            )
        seen += _ids(page)
    return seen


@check("USR-13")
def total_count_and_walk(ctx: CheckContext) -> None:
    users = _paged_users(ctx, 5)
    fragment = f"{ctx.settings.run_id}-pg"
    expected = sorted(u.auth_id for u in users)
    listed = _filtered(ctx, fragment, expected)
    evidence: list[Response] = []
    seen = _walk(ctx, fragment, expected, 2, evidence)
    stray = sorted(set(seen) - set(expected))
    ensure(not stray, f"walking the pages listed users {stray} that do not match", *evidence)
    # Created in parallel, these users may share a creation time, and with ties SQL's order is
    # free (D159): each once only when the target shows them all in distinct seconds.
    seconds = {t.replace(microsecond=0) for t in map(_created_time, listed) if t is not None}
    if len(seconds) == len(expected):
        _ensure_once(seen, expected, evidence)
    # The ordered users were created over a second apart: their creation times differ (D43).
    ordered = sorted(u.auth_id for u in _recent_users(ctx))
    ordered_fragment = f"{ctx.settings.run_id}{ORDER_FRAGMENT}"
    _filtered(ctx, ordered_fragment, ordered)
    walked: list[Response] = []
    _ensure_once(_walk(ctx, ordered_fragment, ordered, 1, walked), ordered, walked)


def _ensure_once(seen: list[str], expected: list[str], evidence: list[Response]) -> None:
    ensure(
        sorted(seen) == expected,
        f"walking the pages gave {sorted(seen)}, expected each of {expected} once "
        "(their creation times differ)",
        *evidence,
    )


def _contains(fragment: str) -> Callable[[dict[str, Any]], bool]:
    return lambda user: fragment.casefold() in str(user.get("email")).casefold()


def _email_like(ctx: CheckContext, fragment: str) -> tuple[Response, list[dict[str, Any]]]:
    """email_like=fragment: 200, and every user listed contains the fragment, ignoring case (D46)."""
    response, listed, _ = list_users(ctx, email_like=fragment, limit=100)
    expect_status(response, (200,), f"GET /users?email_like={fragment}")
    stray = [u.get("email") for u in listed if not _contains(fragment)(u)]
    ensure(
        not stray, f"email_like={fragment!r} let through emails that do not contain it: {stray[:5]}", response
    )
    return response, listed


@check("USR-14")
def email_like_finds_contained_fragments(ctx: CheckContext) -> None:
    """A fragment from the middle of the address, in the same case, finds the user (D46); whether
    another case finds it too is the target's choice (D47)."""
    users = _paged_users(ctx, 5)
    fragment = f"{ctx.settings.run_id}-pg"  # the emails start "qc-": this is inside them
    response, listed = _email_like(ctx, fragment)
    got = set(_ids(listed))
    missing = [u.auth_id for u in users if u.auth_id not in got]
    ensure(
        not missing,
        f"email_like={fragment!r} misses users whose email contains it, in the same case: {missing}",
        response,
    )
    _email_like(ctx, fragment.upper())  # found or not: tolerated; nothing else may come
    middle = ctx.settings.run_id[2:-1]
    response, listed = _email_like(ctx, middle)
    ensure(listed, f"email_like={middle!r} (inside every email of this run) found nothing", response)


# Windows with no user of the run: a window starting after now, or ending before the brand
# existed, may also be refused as inverted (D156).
EMPTY_WINDOWS: tuple[dict[str, str], ...] = (
    {"from_time": "2999-01-01T00:00:00Z"},
    {"to_time": "2000-01-01T00:00:00Z"},
)
UNPARSEABLE_TIMES = ("not-a-time", "2021-13-45T99:99:99Z")


def _windows(ctx: CheckContext, fragment: str, count: int) -> None:
    wide = {"from_time": "2000-01-01T00:00:00Z", "to_time": "2999-01-01T00:00:00Z"}
    response, listed, _ = list_users(ctx, email_like=fragment, limit=100, **wide)
    expect_status(response, (200,), f"GET /users with {wide}")
    ensure(
        len(listed) == count,
        f"GET /users with {wide} listed {len(listed)} of this run's {count} users",
        response,
    )
    for params in EMPTY_WINDOWS:
        response, listed, _ = list_users(ctx, email_like=fragment, limit=100, **params)
        if not 400 <= response.status < 500:
            expect_status(response, (200,), f"GET /users with {params}")
            ensure(not listed, f"GET /users with {params} listed {len(listed)} of this run's users", response)


def _inclusive_bounds(ctx: CheckContext, fragment: str) -> None:
    """A user's own creation time, when shown, as a bound: from_time includes it (D48, fail),
    to_time too (D49, advisory; sent only when shown to the microsecond, D154)."""
    response, listed, _ = list_users(ctx, email_like=fragment, limit=100)
    stamped = [(u, _created_time(u)) for u in listed if _created_time(u) is not None]
    if not stamped:
        return
    user, created = stamped[0]
    assert created is not None
    raw = next(user[k] for k in CREATED_FIELDS if parse_time(user.get(k)) is not None)
    bound = format_time(created)  # ISO 8601 with Z, the documented form (D155)
    got, page, _ = list_users(ctx, email_like=fragment, limit=100, from_time=bound)
    expect_status(got, (200,), f"GET /users?from_time={bound}", response)
    ensure(
        user.get("auth_id") in _ids(page),
        f"from_time={bound} (the user's own creation time, shown as {raw}) excludes the user: "
        "from_time is inclusive",
        response,
        got,
    )
    if fraction_digits(raw) == MICRO_DIGITS:
        got, page, _ = list_users(ctx, email_like=fragment, limit=100, to_time=bound)
        expect_status(got, (200,), f"GET /users?to_time={bound}", response)
        advise(
            user.get("auth_id") in _ids(page),
            f"to_time={bound} (the user's own creation time, shown as {raw}) excludes the user",
            response,
            got,
            decision="D49",
            expected="to_time inclusive",
        )


@check("USR-15")
def time_filters(ctx: CheckContext) -> None:
    users = _paged_users(ctx, 5)
    fragment = f"{ctx.settings.run_id}-pg"
    _filtered(ctx, fragment, sorted(u.auth_id for u in users))
    _windows(ctx, fragment, len(users))
    _inclusive_bounds(ctx, fragment)
    for value in UNPARSEABLE_TIMES:
        for key in ("from_time", "to_time"):
            expect_4xx(ctx.client.get("/users", params={key: value}), f"GET /users?{key}={value}")
