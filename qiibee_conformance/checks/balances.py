"""BAL: balances, credit_points and debit_points (the Points Bank API)."""

from __future__ import annotations

from decimal import Decimal

from qiibee_conformance.checks.base import check, describe, ensure, expect_4xx, expect_status
from qiibee_conformance.checks.context import CheckContext
from qiibee_conformance.discovery import parse_token_id

BAD_AMOUNTS: tuple[object, ...] = (0, -5, "0", "-5", 2.5, "2.5")


@check("BAL-01")
def balances_shape(ctx: CheckContext) -> None:
    user = ctx.new_user("bal")
    ctx.fund(user, 3)
    response = ctx.client.get(f"/users/{user}/balances")
    expect_status(response, (200,), "GET /users/:auth_id/balances")
    data = response.data()
    ensure(
        isinstance(data, list) and data,
        f'expected {{"data": [{{balance, token}}]}}, got {describe(response)}',
        response,
    )
    assert isinstance(data, list)
    for entry in data:
        ensure(
            isinstance(entry, dict)
            and "balance" in entry
            and isinstance(entry.get("token"), dict)
            and parse_token_id(entry["token"].get("id")) is not None,
            f"a balance entry without balance and token object: {entry!r:.300}",
            response,
        )
    unknown = ctx.client.get(f"/users/qc-unknown-{ctx.settings.run_id}/balances")
    expect_status(unknown, (404,), "GET /users/<unknown>/balances")


@check("BAL-02")
def credit_and_debit(ctx: CheckContext) -> None:
    user = ctx.new_user("bal")
    credit = ctx.points("credit_points", user, 25)
    expect_status(credit, (202,), "credit_points of 25")
    ensure(
        ctx.until_balance(user, Decimal(25)),
        f"after credit_points of 25 the balance is {ctx.balance(user)}, not 25",
        credit,
    )
    debit = ctx.points("debit_points", user, "10")
    expect_status(debit, (202,), 'debit_points of "10" (a digit string)', credit)
    ensure(
        ctx.until_balance(user, Decimal(15)),
        f"after credit 25 and debit 10 the balance is {ctx.balance(user)}, not 15",
        credit,
        debit,
    )


@check("BAL-03")
def debit_beyond_balance(ctx: CheckContext) -> None:
    user = ctx.new_user("bal")
    ctx.fund(user, 15)
    debit = ctx.points("debit_points", user, 16)
    expect_status(debit, (400,), "debit_points of 16 from a balance of 15")
    ensure(ctx.balance(user) == 15, f"a refused debit changed the balance to {ctx.balance(user)}", debit)


@check("BAL-04")
def invalid_amounts(ctx: CheckContext) -> None:
    user = ctx.new_user("bal")
    ctx.fund(user, 50)
    # The notes define the amount ("an integer or a string of digits, greater than 0") but no
    # status for breaking it on a credit or debit: any 4xx ("Invalid input of any kind ... is a 4xx").
    for kind in ("credit_points", "debit_points"):
        for amount in BAD_AMOUNTS:
            expect_4xx(ctx.points(kind, user, amount), f"{kind} with amount {amount!r}")


@check("BAL-05")
def credit_only_own_points(ctx: CheckContext) -> None:
    """A credit mints the brand's own points for a user who exists: an unknown token, an airline's
    miles or an unknown user is refused (400 or 404, both tolerated), and no user is made."""
    user = ctx.new_user("bal")
    unknown_token = ctx.catalogue.unused_token_id()
    probes = [
        (
            ctx.points("credit_points", user, 5, unknown_token),
            f"credit_points of token {unknown_token}, which the whitelist does not list",
        ),
        (
            ctx.points("credit_points", f"qc-unknown-credit-{ctx.settings.run_id}", 5),
            "credit_points for a user that does not exist",
        ),
    ]
    # An airline's miles are never the brand's own token (a brand may own several erc20/NFTs).
    miles = next((p.to_token.id for p in ctx.catalogue.pairs_of_type("miles")), None)
    if miles is not None and miles != ctx.brand_token_id:
        probes.append(
            (ctx.points("credit_points", user, 5, miles), f"credit_points of the miles token {miles}")
        )
    for response, what in probes:
        expect_status(response, (400, 404), what)
    ghost = ctx.client.get(f"/users/qc-unknown-credit-{ctx.settings.run_id}")
    expect_status(ghost, (404,), "GET the unknown user a refused credit named", probes[1][0])
