"""MEM: one membership per provider, validated numbers, documented 201/204/400/404."""

from __future__ import annotations

from typing import Any

from qiibee_conformance.checks.base import check, describe, ensure, expect_status
from qiibee_conformance.checks.context import CheckContext
from qiibee_conformance.client import Response
from qiibee_conformance.findings import Nonconformity, Untestable

AIRLINES = ("etihad", "miles_and_more", "alaska")
UNKNOWN_PROVIDER = "qc_no_such_provider"
# Clearly malformed for every provider (behaviour notes): empty, letters, hundreds of characters.
MALFORMED_NUMBERS = ("", "ABCDEFGHIJKL", "9" * 300)


def _post(ctx: CheckContext, user: str, provider: object, number: object) -> Response:
    return ctx.client.post(
        f"/users/{user}/memberships", {"membership": {"brand_id": provider, "membership_number": number}}
    )


def _valid(ctx: CheckContext, count: int = 1) -> tuple[str, tuple[str, ...]]:
    """A provider with at least ``count`` configured valid numbers."""
    for provider, numbers in ctx.settings.membership_numbers.items():
        if len(numbers) >= count:
            return provider, tuple(numbers)
    raise Untestable(f"no provider has {count} valid membership number(s) configured (membership_numbers)")


def _number(obj: Any) -> Any:
    return obj.get("membership_number") if isinstance(obj, dict) else None


def _provider_of(obj: Any) -> Any:
    if not isinstance(obj, dict):
        return None
    brand = obj.get("brand")
    if isinstance(brand, dict):
        return brand.get("id")
    return obj.get("brand_id")


@check("MEM-01")
def create_and_read(ctx: CheckContext) -> None:
    provider, numbers = _valid(ctx)
    user = ctx.new_user("mem")
    created = _post(ctx, user, provider, numbers[0])
    expect_status(created, (201,), f"POST /users/:auth_id/memberships for {provider}")
    body = created.data()
    # D9: the document says "with the user object", the notes the membership; both are right.
    ensure(
        _number(body) == numbers[0] or (isinstance(body, dict) and body.get("auth_id") == user),
        f'the created membership is neither {{"data": membership}} with the number nor {{"data": user}}: '
        f"{describe(created)}",
        created,
    )
    one = ctx.client.get(f"/users/{user}/memberships/{provider}")
    expect_status(one, (200,), f"GET /users/:auth_id/memberships/{provider}", created)
    ensure(_number(one.data()) == numbers[0], f"GET one shows {describe(one)}", created, one)
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
    provider, numbers = _valid(ctx)
    response = _post(ctx, f"qc-unknown-{ctx.settings.run_id}", provider, numbers[0])
    expect_status(response, (404,), "POST /users/<unknown>/memberships")


@check("MEM-03")
def number_validated(ctx: CheckContext) -> None:
    user = ctx.new_user("mem")
    for provider in AIRLINES:
        for number in MALFORMED_NUMBERS:
            expect_status(
                _post(ctx, user, provider, number),
                (400,),
                f"membership {provider} with malformed number {number[:20]!r}",
            )
    for provider, numbers in ctx.settings.membership_numbers.items():
        for number in numbers:
            expect_status(
                _post(ctx, user, provider, number),
                (201,),
                f"membership {provider} with the valid number {number!r}",
            )
        if numbers:
            _update_validated(ctx, user, provider)


def _update_validated(ctx: CheckContext, user: str, provider: str) -> None:
    """Updating a membership is "Same as Create User Membership": a malformed number is still
    400, and the saved number (whichever MEM-05 finds it to be) stays."""
    before = ctx.client.get(f"/users/{user}/memberships/{provider}")
    saved = _number(before.data()) if before.status == 200 else None
    if saved is None:
        return  # nothing readable saved: MEM-01 reports it
    malformed = MALFORMED_NUMBERS[1]
    refused = _post(ctx, user, provider, malformed)
    expect_status(refused, (400,), f"updating the {provider} membership to the malformed {malformed!r}")
    kept = ctx.client.get(f"/users/{user}/memberships/{provider}")
    expect_status(kept, (200,), f"GET {provider} after a refused update", refused)
    ensure(
        _number(kept.data()) == saved,
        f"after a refused update the {provider} membership shows {describe(kept)}, not {saved!r}",
        refused,
        kept,
    )


@check("MEM-04")
def unknown_provider(ctx: CheckContext) -> None:
    user = ctx.new_user("mem")
    expect_status(
        _post(ctx, user, UNKNOWN_PROVIDER, "100014486294"),
        (400,),
        f"POST membership for provider {UNKNOWN_PROVIDER!r}",
    )


@check("MEM-05")
def create_again_replaces(ctx: CheckContext) -> None:
    provider, numbers = _valid(ctx, 2)
    user = ctx.new_user("mem")
    first = _post(ctx, user, provider, numbers[0])
    expect_status(first, (201,), f"POST membership {provider}")
    second = _post(ctx, user, provider, numbers[1])
    expect_status(second, (201,), f"POST membership {provider} again with another number", first)
    one = ctx.client.get(f"/users/{user}/memberships/{provider}")
    ensure(
        _number(one.data()) == numbers[1],
        f"after creating again, GET shows {describe(one)} (expected number {numbers[1]!r})",
        first,
        second,
        one,
    )
    listing = ctx.client.get(f"/users/{user}/memberships")
    items = listing.data()
    mine = [m for m in items if _provider_of(m) == provider] if isinstance(items, list) else []
    ensure(len(mine) <= 1, f"the user holds {len(mine)} memberships for {provider}", listing)


@check("MEM-06")
def brand_membership_is_auth_id(ctx: CheckContext) -> None:
    brand_id = ctx.settings.brand_id
    if not brand_id:
        raise Untestable("the brand's own id is not configured (brand_id)")
    user = ctx.new_user("mem")
    expect_status(
        _post(ctx, user, brand_id, f"{user}-not-it"),
        (400,),
        "membership with the brand's own id and a number that is not the auth_id",
    )
    expect_status(
        _post(ctx, user, brand_id, user),
        (201,),
        "membership with the brand's own id and the user's auth_id as number",
    )


@check("MEM-07")
def empty_list(ctx: CheckContext) -> None:
    user = ctx.new_user("mem")
    response = ctx.client.get(f"/users/{user}/memberships")
    expect_status(response, (200,), "GET /users/:auth_id/memberships of a new user")
    ensure(response.data() == [], f"a user without memberships got {describe(response)}", response)


@check("MEM-08")
def get_missing(ctx: CheckContext) -> None:
    user = ctx.new_user("mem")
    for provider in AIRLINES:
        expect_status(
            ctx.client.get(f"/users/{user}/memberships/{provider}"),
            (404,),
            f"GET membership {provider} the user does not have",
        )
    expect_status(
        ctx.client.get(f"/users/{user}/memberships/{UNKNOWN_PROVIDER}"),
        (400, 404),
        "GET membership of a provider that does not exist",
    )
    if any(ctx.settings.membership_numbers.values()):
        _other_providers(ctx)


def _other_providers(ctx: CheckContext) -> None:
    """A membership with one provider is not one with another ("1 membership per exchange
    provider"): GET and DELETE name the provider, and must not reach the user's other one."""
    provider, numbers = _valid(ctx)
    user = ctx.new_user("mem")
    created = _post(ctx, user, provider, numbers[0])
    expect_status(created, (201,), f"POST membership {provider}")
    for other in (p for p in AIRLINES if p != provider):
        path = f"/users/{user}/memberships/{other}"
        what = f"{other} of a user whose only membership is {provider}"
        expect_status(ctx.client.get(path), (404,), f"GET {what}", created)
        expect_status(ctx.client.delete(path), (404,), f"DELETE {what}", created)
    kept = ctx.client.get(f"/users/{user}/memberships/{provider}")
    expect_status(kept, (200,), f"GET {provider} after DELETEs of other providers", created)
    ensure(
        _number(kept.data()) == numbers[0],
        f"after DELETEs of other providers the {provider} membership shows {describe(kept)}",
        created,
        kept,
    )


@check("MEM-09")
def delete(ctx: CheckContext) -> None:
    provider, numbers = _valid(ctx)
    user = ctx.new_user("mem")
    created = _post(ctx, user, provider, numbers[0])
    expect_status(created, (201,), f"POST membership {provider}")
    path = f"/users/{user}/memberships/{provider}"
    first = ctx.client.delete(path)
    expect_status(first, (204,), f"DELETE {path}", created)
    if first.text.strip():
        raise Nonconformity(f"DELETE answered 204 with a body: {first.text[:200]!r}", [first])
    expect_status(ctx.client.get(path), (404,), "GET a membership after DELETE", first)
    expect_status(ctx.client.delete(path), (404,), "a second DELETE of the same membership", first)


@check("MEM-10")
def delete_unknown_provider(ctx: CheckContext) -> None:
    user = ctx.new_user("mem")
    expect_status(
        ctx.client.delete(f"/users/{user}/memberships/{UNKNOWN_PROVIDER}"),
        (400,),
        "DELETE membership of a provider that does not exist",
    )
