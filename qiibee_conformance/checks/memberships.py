"""MEM: one membership per provider, validated numbers, documented 201/204/400/404.

Levels (DECISIONS D50..D59, D174): the statuses the Users API names are fail-level; the
create body (the membership or the user, under "data" or bare, D9), a re-create (replaced
with 201 or 200, or a 4xx keeping the first, D52) and the own-brand number (a 400, or the
auth_id stored whatever was sent, D53) are tolerated; a body on the DELETE's 204 is an
advisory (D12).
"""

from __future__ import annotations

from typing import Any

from qiibee_conformance.checks.base import advise, check, describe, ensure, expect_4xx, expect_status
from qiibee_conformance.checks.context import CheckContext
from qiibee_conformance.client import Response
from qiibee_conformance.envelopes import membership_object
from qiibee_conformance.findings import Nonconformity, Untestable
from qiibee_conformance.settings import DOCUMENTED_ETIHAD_NUMBERS

AIRLINES = ("etihad", "miles_and_more", "alaska")
UNKNOWN_PROVIDER = "qc_no_such_provider"
# Clearly malformed for every provider (behaviour notes): empty, letters, hundreds of characters.
MALFORMED_NUMBERS = ("", "ABCDEFGHIJKL", "9" * 300)
MALFORMED_UPDATE = MALFORMED_NUMBERS[1]


def _post(ctx: CheckContext, user: str, provider: object, number: object) -> Response:
    return ctx.client.post(
        f"/users/{user}/memberships", {"membership": {"brand_id": provider, "membership_number": number}}
    )


def _path(user: str, provider: str) -> str:
    return f"/users/{user}/memberships/{provider}"


def _valid(ctx: CheckContext, count: int = 1) -> tuple[str, tuple[str, ...]]:
    """A provider with at least ``count`` configured valid numbers."""
    for provider, numbers in ctx.settings.membership_numbers.items():
        if len(numbers) >= count:
            return provider, tuple(numbers)
    raise Untestable(f"no provider has {count} valid membership number(s) configured (membership_numbers)")


def _any_valid(ctx: CheckContext) -> tuple[str, str]:
    """A configured valid number, else a documented sandbox Etihad one (D6)."""
    for provider, numbers in ctx.settings.membership_numbers.items():
        if numbers:
            return provider, numbers[0]
    return "etihad", DOCUMENTED_ETIHAD_NUMBERS[0]


def _number(obj: Any) -> Any:
    return obj.get("membership_number") if isinstance(obj, dict) else None


def _provider_of(obj: Any) -> Any:
    if not isinstance(obj, dict):
        return None
    brand = obj.get("brand")
    if isinstance(brand, dict):
        return brand.get("id")
    return obj.get("brand_id")


def _saved(ctx: CheckContext, user: str, provider: str, what: str, *more: Response) -> tuple[Any, Response]:
    """GET one: it must answer 200 (the membership exists), with the number it shows."""
    one = ctx.client.get(_path(user, provider))
    expect_status(one, (200,), what, *more)
    return _number(one.data()), one


def _created(ctx: CheckContext, user: str, provider: str, number: str) -> Response:
    """The first membership of ``user`` for ``provider``: 201, documented."""
    created = _post(ctx, user, provider, number)
    expect_status(created, (201,), f"POST /users/:auth_id/memberships for {provider} with {number!r}")
    return created


def _recreate(response: Response, what: str, *more: Response) -> bool:
    """Whether a re-create for a provider the user has was accepted: 201 or 200 replaces, a 4xx
    refuses (D52, both tolerated); anything else is a break."""
    if response.status in (200, 201):
        return True
    if 400 <= response.status < 500:
        return False
    raise Nonconformity(
        f"{what}: expected HTTP 201 or 200 (replaced) or a 4xx (refused), got {describe(response)}",
        [*more, response],
        expected="HTTP 201, 200 or a 4xx",
        actual=f"HTTP {response.status}",
    )


def _shows_created(body: Any, user: str, email: str, number: str) -> bool:
    """The create answer shows the membership with its number, or the user (D9)."""
    shown = membership_object(body)
    if shown is None:
        return False
    if "membership_number" in shown:
        return bool(shown["membership_number"] == number)
    found_email = shown.get("email")
    same_email = isinstance(found_email, str) and found_email.lower() == email.lower()
    return shown.get("auth_id") == user or same_email


@check("MEM-01")
def create_and_read(ctx: CheckContext) -> None:
    provider, numbers = _valid(ctx)
    person = ctx.api.new_user_full("mem")
    user = person.auth_id
    created = _created(ctx, user, provider, numbers[0])
    ensure(
        _shows_created(created.json(), user, person.email, numbers[0]),
        "the created membership answer shows neither the membership with the number sent nor the user "
        f'(under "data" or bare): {describe(created)}',
        created,
    )
    saved, one = _saved(ctx, user, provider, f"GET /users/:auth_id/memberships/{provider}", created)
    ensure(saved == numbers[0], f"GET one shows {describe(one)}, not the number {numbers[0]!r}", created, one)
    listing = ctx.client.get(f"/users/{user}/memberships")
    expect_status(listing, (200,), "GET /users/:auth_id/memberships", created)
    items = listing.data()
    ensure(
        isinstance(items, list)
        and any(_number(m) == numbers[0] and _provider_of(m) in (provider, None) for m in items),
        f"the membership list does not hold the membership: {describe(listing)}",
        created,
        listing,
    )


@check("MEM-02")
def unknown_user(ctx: CheckContext) -> None:
    """404 for a user that does not exist, on every membership operation (D54)."""
    provider, number = _any_valid(ctx)
    ghost = f"qc-unknown-mem-{ctx.settings.run_id}"
    probes = (
        (_post(ctx, ghost, provider, number), f"POST /users/<unknown>/memberships ({provider})"),
        (ctx.client.get(f"/users/{ghost}/memberships"), "GET /users/<unknown>/memberships"),
        (ctx.client.get(_path(ghost, provider)), f"GET /users/<unknown>/memberships/{provider}"),
        (ctx.client.delete(_path(ghost, provider)), f"DELETE /users/<unknown>/memberships/{provider}"),
    )
    for response, what in probes:
        expect_status(response, (404,), what)


@check("MEM-03")
def number_validated(ctx: CheckContext) -> None:
    user = ctx.api.new_user("mem")
    for provider in AIRLINES:
        for number in MALFORMED_NUMBERS:
            expect_status(
                _post(ctx, user, provider, number),
                (400,),
                f"membership {provider} with malformed number {number[:20]!r}",
            )
    configured = {p: tuple(n) for p, n in ctx.settings.membership_numbers.items() if n}
    _valid_numbers_accepted(ctx, user, configured)
    for provider, numbers in configured.items():
        _update_validated(ctx, user, provider, numbers)


def _valid_numbers_accepted(ctx: CheckContext, user: str, configured: dict[str, tuple[str, ...]]) -> None:
    """Every configured number (the documented Etihad ones among them, D6) is accepted with 201.
    Each is the first membership of its user for its provider, so no re-create is involved:
    the n-th number of every provider goes to the n-th user."""
    for index in range(max((len(n) for n in configured.values()), default=0)):
        owner = user if index == 0 else ctx.api.new_user("mem")
        for provider, numbers in configured.items():
            if index < len(numbers):
                _created(ctx, owner, provider, numbers[index])


def _update_validated(ctx: CheckContext, user: str, provider: str, numbers: tuple[str, ...]) -> None:
    """Updating is "Same as Create User Membership" (D174): a malformed number is 400 and the
    saved number stays. A target may refuse every re-create with a 4xx (D52); there the update
    path cannot be taken, so only a refusal (any 4xx) keeping the saved number is judged."""
    _saved(ctx, user, provider, f"GET the {provider} membership just created")
    again = _post(ctx, user, provider, numbers[-1])
    updatable = _recreate(again, f"creating the {provider} membership again with the valid {numbers[-1]!r}")
    saved, before = _saved(ctx, user, provider, f"GET {provider} after creating it again", again)
    refused = _post(ctx, user, provider, MALFORMED_UPDATE)
    what = f"updating the {provider} membership to the malformed {MALFORMED_UPDATE!r}"
    if updatable:
        expect_status(refused, (400,), what, again)
    else:
        expect_4xx(refused, what, again)
    kept, after = _saved(ctx, user, provider, f"GET {provider} after a refused update", refused)
    ensure(
        kept == saved,
        f"after a refused update the {provider} membership shows {describe(after)}, not {saved!r}",
        before,
        refused,
        after,
    )


@check("MEM-04")
def unknown_provider(ctx: CheckContext) -> None:
    user = ctx.api.new_user("mem")
    expect_status(
        _post(ctx, user, UNKNOWN_PROVIDER, DOCUMENTED_ETIHAD_NUMBERS[0]),
        (400,),
        f"POST membership for provider {UNKNOWN_PROVIDER!r}",
    )


@check("MEM-05")
def one_per_provider(ctx: CheckContext) -> None:
    """Never two memberships for one provider (D51). Creating again may replace the number
    (201 or 200) or be refused with a 4xx that keeps the first (D52); a 2xx keeping the old
    number, or a 4xx changing it, is a break."""
    provider, numbers = _valid(ctx, 2)
    user = ctx.api.new_user("mem")
    first = _created(ctx, user, provider, numbers[0])
    second = _post(ctx, user, provider, numbers[1])
    replaced = _recreate(second, f"POST membership {provider} again with another number", first)
    expected = numbers[1] if replaced else numbers[0]
    how = f"answered HTTP {second.status} ({'replaced' if replaced else 'refused'})"
    shown, one = _saved(ctx, user, provider, f"GET {provider} after creating it again", first, second)
    ensure(
        shown == expected,
        f"creating the {provider} membership again {how}, yet GET shows {describe(one)} "
        f"(expected the number {expected!r})",
        first,
        second,
        one,
        expected=repr(expected),
        actual=repr(shown),
    )
    listing = ctx.client.get(f"/users/{user}/memberships")
    expect_status(listing, (200,), "GET /users/:auth_id/memberships", second)
    items = listing.data()
    # The user has memberships of this provider only, so every item listed is one.
    ensure(
        isinstance(items, list) and len(items) == 1 and _number(items[0]) == expected,
        f"a user with one {provider} membership (number {expected!r}) is listed with {describe(listing)}",
        first,
        second,
        listing,
    )


@check("MEM-06")
def brand_membership_is_auth_id(ctx: CheckContext) -> None:
    """The own brand's membership number is the user's auth_id (D53): sending it is accepted;
    sending another number gets a 400 or stores the auth_id; storing any other number fails."""
    brand_id = ctx.settings.brand_id
    if not brand_id:
        raise Untestable("the brand's own id is not configured (brand_id)")
    user = ctx.api.new_user("mem")
    created = _created(ctx, user, brand_id, user)
    shown, one = _saved(ctx, user, brand_id, "GET the own-brand membership just created", created)
    ensure(shown == user, f"the own-brand membership shows {describe(one)}, not the auth_id", created, one)
    other = ctx.api.new_user("mem")
    sent = f"{other}-not-it"
    answer = _post(ctx, other, brand_id, sent)
    if answer.status == 400:
        stored = ctx.client.get(_path(other, brand_id))
        expect_status(stored, (404, 200), "GET the own-brand membership after a refused create", answer)
        ensure(
            stored.status == 404 or _number(stored.data()) == other,
            f"the own-brand membership with another number was refused, yet GET shows {describe(stored)}",
            answer,
            stored,
        )
        return
    if answer.status not in (200, 201):
        raise Nonconformity(
            "membership with the brand's own id and a number that is not the auth_id: expected HTTP 400, "
            f"or 201 storing the auth_id; got {describe(answer)}",
            [answer],
            expected="HTTP 400, or 201 with the auth_id stored",
            actual=f"HTTP {answer.status}",
        )
    shown, one = _saved(ctx, other, brand_id, "GET the own-brand membership it accepted", answer)
    ensure(
        shown == other,
        f"the own-brand membership sent with {sent!r} was stored as {describe(one)}: only the user's "
        "auth_id may be stored",
        answer,
        one,
        expected=repr(other),
        actual=repr(shown),
    )


@check("MEM-07")
def empty_list(ctx: CheckContext) -> None:
    user = ctx.api.new_user("mem")
    response = ctx.client.get(f"/users/{user}/memberships")
    expect_status(response, (200,), "GET /users/:auth_id/memberships of a new user")
    ensure(response.data() == [], f"a user without memberships got {describe(response)}", response)


@check("MEM-08")
def get_missing(ctx: CheckContext) -> None:
    user = ctx.api.new_user("mem")
    for provider in AIRLINES:
        expect_status(
            ctx.client.get(_path(user, provider)),
            (404,),
            f"GET membership {provider} the user does not have",
        )
    expect_status(
        ctx.client.get(_path(user, UNKNOWN_PROVIDER)),
        (400, 404),
        "GET membership of a provider that does not exist",
    )
    if any(ctx.settings.membership_numbers.values()):
        _other_providers(ctx)


def _other_providers(ctx: CheckContext) -> None:
    """A membership with one provider is not one with another ("1 membership per exchange
    provider"): GET and DELETE name the provider, and must not reach the user's other one."""
    provider, numbers = _valid(ctx)
    user = ctx.api.new_user("mem")
    created = _created(ctx, user, provider, numbers[0])
    for other in (p for p in AIRLINES if p != provider):
        path = _path(user, other)
        what = f"{other} of a user whose only membership is {provider}"
        expect_status(ctx.client.get(path), (404,), f"GET {what}", created)
        expect_status(ctx.client.delete(path), (404,), f"DELETE {what}", created)
    kept, one = _saved(ctx, user, provider, f"GET {provider} after DELETEs of other providers", created)
    ensure(
        kept == numbers[0],
        f"after DELETEs of other providers the {provider} membership shows {describe(one)}",
        created,
        one,
    )


def _has_body(response: Response) -> bool:
    """A body sent with the answer: read, or announced (HTTP clients drop a 204's body unread)."""
    length = response.headers.get("Content-Length") or "0"
    return bool(response.text.strip()) or (length.strip().isdigit() and int(length) > 0)


@check("MEM-09")
def delete(ctx: CheckContext) -> None:
    provider, numbers = _valid(ctx)
    user = ctx.api.new_user("mem")
    created = _created(ctx, user, provider, numbers[0])
    path = _path(user, provider)
    first = ctx.client.delete(path)
    expect_status(first, (204,), f"DELETE {path}", created)
    advise(
        not _has_body(first),
        f"DELETE answered 204 with a body ({first.text[:200]!r}, Content-Length "
        f"{first.headers.get('Content-Length')}); a 204 carries none",
        first,
        decision="D12",
        expected="no body",
        actual="a body",
    )
    expect_status(ctx.client.get(path), (404,), "GET a membership after DELETE", first)
    expect_status(ctx.client.delete(path), (404,), "a second DELETE of the same membership", first)


@check("MEM-10")
def delete_unknown_provider(ctx: CheckContext) -> None:
    user = ctx.api.new_user("mem")
    expect_status(
        ctx.client.delete(_path(user, UNKNOWN_PROVIDER)),
        (400,),
        "DELETE membership of a provider that does not exist",
    )
