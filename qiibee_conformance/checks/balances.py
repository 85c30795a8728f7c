"""BAL: balances, credit_points and debit_points (the Points Bank API)."""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

from qiibee_conformance.checks import prerequisites
from qiibee_conformance.checks.base import advise, check, describe, ensure, expect_4xx, expect_status
from qiibee_conformance.checks.context import CheckContext
from qiibee_conformance.client import Response
from qiibee_conformance.discovery import parse_token_id

# Neither an integer nor a string of digits greater than 0 (D2): zero, negative, decimal, a boolean.
BAD_AMOUNTS: tuple[object, ...] = (0, -5, "0", "-5", 2.5, "2.5", True)


def _is_number(value: object) -> bool:
    """A JSON number (Python's json also reads NaN and Infinity, which are none)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _is_numeric_string(value: object) -> bool:
    """A balance written as a string of a decimal number ("120", "120.5"): D5's advisory."""
    if not isinstance(value, str):
        return False
    try:
        return Decimal(value.strip()).is_finite()
    except InvalidOperation:
        return False


def _entries(response: Response, what: str) -> list[dict[str, Any]]:
    """The entries of a balances answer, each with a balance and a token object with an id, the
    balance a number or a numeric string (D4); a string is left to the caller's advisory."""
    expect_status(response, (200,), what)
    data = response.data()
    ensure(
        isinstance(data, list),
        f'{what}: expected {{"data": [{{balance, token}}]}}, got {describe(response)}',
        response,
    )
    assert isinstance(data, list)
    for entry in data:
        ensure(
            isinstance(entry, dict)
            and "balance" in entry
            and isinstance(entry.get("token"), dict)
            and parse_token_id(entry["token"].get("id")) is not None,
            f"{what}: a balance entry without balance and token object: {entry!r:.300}",
            response,
        )
        ensure(
            _is_number(entry["balance"]) or _is_numeric_string(entry["balance"]),
            f"{what}: a balance that is not a number: {entry['balance']!r:.100}",
            response,
            expected="a JSON number",
            actual=repr(entry["balance"])[:100],
        )
    return data


@check("BAL-01")
def balances_shape(ctx: CheckContext) -> None:
    """``{"data": [{balance, token}]}`` and 404 for an unknown user (D4); the balance a JSON
    number, a numeric string being an advisory (D5). A new user's balances are judged before
    funding (which needs them readable), a funded user's must list the credited token."""
    unknown = ctx.client.get(f"/users/qc-unknown-{ctx.settings.run_id}/balances")
    expect_status(unknown, (404,), "GET /users/<unknown>/balances")
    user = ctx.api.new_user("bal")
    fresh = ctx.client.get(f"/users/{user}/balances")
    entries = _entries(fresh, "GET /users/:auth_id/balances of a new user")
    ctx.api.fund(user, 3)
    response = ctx.client.get(f"/users/{user}/balances")
    funded = _entries(response, "GET /users/:auth_id/balances of a funded user")
    ensure(funded, f"a funded user's balances list no token: {describe(response)}", response)
    strings = [e["balance"] for e in [*entries, *funded] if not _is_number(e["balance"])]
    advise(
        not strings,
        f"balances are shown as strings ({strings[0]!r:.40}), not JSON numbers" if strings else "",
        response,
        decision="D5",
        expected="a JSON number",
        actual="a string",
    )


@check("BAL-02")
def credit_and_debit(ctx: CheckContext) -> None:
    """Judged by the change of the balance: a new user may start with points (D27)."""
    ctx.require(prerequisites.FUNDING)
    user = ctx.api.new_user("bal")
    before = ctx.api.balance(user)
    credit = ctx.api.points("credit_points", user, 25)
    expect_status(credit, (202,), "credit_points of 25")
    ensure(
        ctx.api.until_balance(user, before + 25),
        f"after credit_points of 25 the balance is {ctx.api.balance(user)}, not {before} + 25",
        credit,
    )
    debit = ctx.api.points("debit_points", user, "10")
    expect_status(debit, (202,), 'debit_points of "10" (a digit string)', credit)
    ensure(
        ctx.api.until_balance(user, before + 15),
        f"after credit 25 and debit 10 the balance is {ctx.api.balance(user)}, not {before} + 15",
        credit,
        debit,
    )


@check("BAL-03")
def debit_beyond_balance(ctx: CheckContext) -> None:
    user = ctx.api.new_user("bal")
    ctx.api.fund(user, 15)
    funded = ctx.api.balance(user)  # 15 and whatever the user started with (D27)
    beyond = int(funded) + 1
    debit = ctx.api.points("debit_points", user, beyond)
    expect_status(debit, (400,), f"debit_points of {beyond} from a balance of {funded}")
    after = ctx.api.balance(user)
    ensure(after == funded, f"a refused debit changed the balance from {funded} to {after}", debit)


@check("BAL-04")
def invalid_amounts(ctx: CheckContext) -> None:
    """Any 4xx (D151: no status is named for a credit or debit), and the balance unchanged."""
    user = ctx.api.new_user("bal")
    ctx.api.fund(user, 50)
    before = ctx.api.balance(user)
    refused = []
    for kind in ("credit_points", "debit_points"):
        for amount in BAD_AMOUNTS:
            response = ctx.api.points(kind, user, amount)
            expect_4xx(response, f"{kind} with amount {amount!r}")
            refused.append(response)
    after = ctx.api.balance(user)
    ensure(
        after == before,
        f"credits and debits refused for their amount changed the balance from {before} to {after}",
        *refused,
    )


@check("BAL-05")
def credit_only_own_points(ctx: CheckContext) -> None:
    """A credit mints the brand's own points for a user who exists: an unknown token, an airline's
    miles or an unknown user is refused (400 or 404, both tolerated), and no user is made."""
    user = ctx.api.new_user("bal")
    unknown_token = ctx.catalogue.unused_token_id()
    probes = [
        (
            ctx.api.points("credit_points", user, 5, unknown_token),
            f"credit_points of token {unknown_token}, which the whitelist does not list",
        ),
        (
            ctx.api.points("credit_points", f"qc-unknown-credit-{ctx.settings.run_id}", 5),
            "credit_points for a user that does not exist",
        ),
    ]
    # An airline's miles are never the brand's own token (a brand may own several erc20/NFTs).
    miles = next((p.to_token.id for p in ctx.catalogue.pairs_of_type("miles")), None)
    if miles is not None and miles != ctx.brand_token_id:
        probes.append(
            (ctx.api.points("credit_points", user, 5, miles), f"credit_points of the miles token {miles}")
        )
    for response, what in probes:
        expect_status(response, (400, 404), what)
    ghost = ctx.client.get(f"/users/qc-unknown-credit-{ctx.settings.run_id}")
    expect_status(ghost, (404,), "GET the unknown user a refused credit named", probes[1][0])
