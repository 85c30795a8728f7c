"""NFT: redeeming points for an NFT burns ceil(NFT onramp ÷ point onramp)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from qiibee_conformance import reconcile
from qiibee_conformance.checks.base import check, expect_4xx, expect_status
from qiibee_conformance.checks.context import CheckContext
from qiibee_conformance.checks.exchange_run import exact_user
from qiibee_conformance.client import Response
from qiibee_conformance.discovery import Pair
from qiibee_conformance.findings import Nonconformity, Untestable
from qiibee_conformance.money import nft_points_to_burn

SPARE = 5


def _nft(ctx: CheckContext) -> tuple[Pair, int]:
    brand = ctx.catalogue.brand_token
    for pair in ctx.catalogue.pairs_of_type("erc721"):
        if pair.to_token.onramp is not None and brand.onramp:
            return pair, nft_points_to_burn(pair.to_token.onramp, brand.onramp)
    raise Untestable("the whitelist has no NFT (erc721) pair from the brand token with known onramps")


def redeem(ctx: CheckContext, user: str, pair: Pair, **fields: Any) -> Response:
    body: dict[str, Any] = {
        "reward_type": "points_to_nft_exchange",
        "from_token_id": pair.from_token.id,
        "to_token_id": pair.to_token.id,
        "user_auth_id": user,
    }
    for key, value in fields.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return ctx.client.post("/transactions", {"transaction": body})


@check("NFT-01")
def nft_burns_ceil(ctx: CheckContext) -> None:
    """Points burned = ceil(NFT onramp ÷ point onramp) (D81), judged by the balance's change: the row's
    type is free and it may settle later (D82), the debit at acceptance or at settlement (D101)."""
    pair, burn = _nft(ctx)
    user = ctx.api.new_user("nft")
    ctx.api.fund(user, burn + SPARE)
    held = ctx.api.balance(user)  # a sign-up bonus is tolerated (D27): only the change is judged
    response = redeem(ctx, user, pair)
    expect_status(response, (202,), f"points to NFT {pair.to_token.id} with a balance of {held}")
    # No trailing credit here: it may still be pending when the balance is read, which would
    # make the burned amount look one too high. The balance alone decides below.
    expected = held - burn

    # Whether NFT redemptions show in the history is not documented: done when the balance is
    # right, or when the user's rows show the redemption settled.
    def done() -> bool:
        rows, _ = ctx.api.user_rows(user)
        moves = [r for r in rows if reconcile.row_type(r) not in (reconcile.CREDIT, reconcile.DEBIT)]
        if any(reconcile.is_failed(r) for r in moves):
            raise Untestable("the NFT redemption failed on the target, so the points burned cannot be seen")
        settled = bool(moves) and not any(reconcile.is_pending(r) for r in moves)
        return settled or ctx.api.balance(user) == expected

    if not ctx.poll(done):
        raise Untestable("the NFT redemption neither settled nor showed in the balance in time (see SET-01)")
    _, evidence = ctx.api.user_rows(user)
    balance = ctx.api.balance(user)
    burned = held - balance
    if burned != burn:
        raise Nonconformity(
            f"redeeming NFT {pair.to_token.id} (onramp {pair.to_token.raw.get('onramp')}) "
            f"with points of onramp {ctx.catalogue.brand_token.raw.get('onramp')} burned {burned} "
            f"(balance {held} before, {balance} after); ceil(NFT onramp ÷ point onramp) = {burn}",
            [response, *evidence],
            expected=str(burn),
            actual=str(burned),
        )


@check("NFT-02")
def nft_bad_requests(ctx: CheckContext) -> None:
    """Missing fields: a 4xx (D165); short of points, an unknown user or NFT: 400 (D177); no
    refused request moves the balance."""
    pair, burn = _nft(ctx)
    _refused_when_short(ctx, pair, burn)
    rich = ctx.api.new_user("nft")
    ctx.api.fund(rich, burn + SPARE)
    held = ctx.api.balance(rich)
    refusals = [*_refused_unknown(ctx, rich, pair), *_refused_incomplete(ctx, rich, pair)]
    _balance_kept(ctx, rich, held, refusals)


def _refused_when_short(ctx: CheckContext, pair: Pair, burn: int) -> None:
    """Insufficient balance is on the exchange's 400 list, which the NFT section shares."""
    # Half the price: short of it under floor or ceil alike (NFT-01 tells those apart). A sign-up
    # bonus is cleared first, or it could pay for the NFT.
    held = burn // 2
    user = exact_user(ctx, held, "nft")
    response = redeem(ctx, user, pair)
    expect_status(response, (400,), f"points to NFT with a balance of {held} (needs {burn})")
    _balance_kept(ctx, user, Decimal(held), [response])


def _refused_unknown(ctx: CheckContext, rich: str, pair: Pair) -> list[Response]:
    """The exchange's 400 list has "User/Token does not exist"; the NFT's responses "will be the same"."""
    ghost = f"qc-unknown-nft-{ctx.settings.run_id}"
    no_user = redeem(ctx, ghost, pair)
    expect_status(no_user, (400,), f"points to NFT for user {ghost}, who does not exist")
    bogus = ctx.catalogue.unused_token_id()
    no_token = redeem(ctx, rich, pair, to_token_id=bogus)
    expect_status(
        no_token,
        (400,),
        f"points to NFT {bogus}, a token the whitelist does not list, by a user who can afford the real one",
    )
    return [no_user, no_token]


def _refused_incomplete(ctx: CheckContext, rich: str, pair: Pair) -> list[Response]:
    """Missing fields are invalid input ("a 4xx"); the NFT section's 400 list does not name them."""
    refusals = []
    for missing in ("reward_type", "from_token_id", "to_token_id", "user_auth_id"):
        response = redeem(ctx, rich, pair, **{missing: None})
        expect_4xx(response, f"points to NFT without {missing}")
        refusals.append(response)
    return refusals


def _balance_kept(ctx: CheckContext, user: str, expected: Decimal, refusals: list[Response]) -> None:
    """A refused redemption burns nothing: the balance is what was credited before it."""
    balance = ctx.api.balance(user)
    if balance != expected:
        raise Nonconformity(
            f"points-to-NFT requests refused with a 4xx changed the user's balance: "
            f"expected {expected} (as before them), got {balance}",
            refusals,
        )
