"""POST /transactions: credit/debit (settle at once), exchange and points-to-NFT (queued).

The balance check, the debit and the history row are one SQLite transaction
under the store lock with no await in between, so a burst can never overdraw.
Only the race faults break that on purpose (read, yield to the loop, write; or,
race-merged-exchanges, two quick exchanges folded into one history row).
"""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from qiibee_conformance.mock import rates
from qiibee_conformance.mock.catalogue import BRAND_ID as OWN_BRAND
from qiibee_conformance.mock.catalogue import BRAND_TOKEN_ID, PAIR_INDEX, TOKENS, Token
from qiibee_conformance.mock.providers import valid_number
from qiibee_conformance.mock.state import MockState, read_json, state_of
from qiibee_conformance.mock.store import TxRow, UserRow
from qiibee_conformance.mock.validation import (
    MAX_AMOUNT,
    ApiError,
    amount,
    optional_string,
    rate_override,
    required_string,
    token_id,
    wrapper,
)

RACE_PAUSE = 0.02  # wide enough that a burst of ~50 requests reliably interleaves
MERGE_WINDOW = 0.05  # race-merged-exchanges: a user's exchanges this close share one history row
NFT_TYPE = "points_to_nft_exchange"


async def post_transaction(request: Request) -> Response:
    st = state_of(request)
    t = wrapper(await read_json(request, st), "transaction")
    if "reward_type" in t:
        if t["reward_type"] != NFT_TYPE:
            raise ApiError(f"reward_type must be {NFT_TYPE!r}")
        row = await _nft(st, t)
    else:
        kind = t.get("type")
        if kind == "exchange":
            row = await _exchange(st, t)
        elif kind in ("credit_points", "debit_points"):
            row = await _credit_debit(st, t, kind)
        else:
            raise ApiError("transaction.type must be exchange, credit_points or debit_points")
    if st.variant("empty-202"):
        return Response(b"", 202)
    user = st.store.users_by_pk([row.user_pk])[row.user_pk]
    return st.raw(st.renderer.envelope(st.renderer.tx_json(row, user)), 202)


def _user_for_tx(st: MockState, t: dict[str, Any], not_found_status: int = 400) -> UserRow:
    auth_id = required_string(t, "user_auth_id")
    user = st.store.user_by_auth_id(auth_id)
    if user is None:
        raise ApiError(f"user {auth_id!r} does not exist", not_found_status)
    return user


def _token(t: dict[str, Any], key: str) -> Token:
    tid = token_id(t, key)
    token = TOKENS.get(tid)
    if token is None:
        raise ApiError(f"token {tid} does not exist")
    return token


async def _credit_debit(st: MockState, t: dict[str, Any], kind: str) -> TxRow:
    """Points Bank credit/debit on the brand's own token; settles immediately."""
    tid = token_id(t, "token_id")
    amt = amount(t)
    user = _user_for_tx(st, t, 404 if st.variant("credit-unknown-404") else 400)
    if tid != BRAND_TOKEN_ID and not st.fault("credit-any-token"):
        raise ApiError(f"token {tid} is not one of the brand's own tokens")
    store = st.store
    if kind == "credit_points" and st.fault("race-lost-credit"):
        before = store.balance(user.pk, tid)
        await asyncio.sleep(RACE_PAUSE)
        store.set_balance(user.pk, tid, before + amt)
        return _settled_row(st, kind, user, tid, amt)
    with store.transaction():
        if kind == "debit_points":
            if store.balance(user.pk, tid) < amt and not st.fault("debit-overdraw"):
                raise ApiError("insufficient balance")
            store.add_balance(user.pk, tid, -amt)
        else:
            store.add_balance(user.pk, tid, amt)
        return _settled_row(st, kind, user, tid, amt)


def _settled_row(st: MockState, kind: str, user: UserRow, tid: int, amt: int) -> TxRow:
    return st.store.insert_tx(
        type=kind, status="success", user_pk=user.pk, token_id=tid, token_to_id=None,
        amount=amt, amount_received=str(amt) if kind == "credit_points" else None,
    )


def _rate(st: MockState, a: Token, b: Token, override: Fraction | None) -> Fraction:
    if override is not None:
        if st.fault("exchange-override-stored"):
            st.stored_rates[(a.id, b.id)] = override
        return override
    stored = st.stored_rates.get((a.id, b.id))
    if stored is not None:
        return stored
    if a.offramp is None or b.onramp is None:
        raise ApiError("exchange not allowed: the tokens have no rate")
    if st.fault("exchange-rate-inverted"):
        return rates.exact(b.onramp) / rates.exact(a.offramp)
    return rates.exact(a.offramp) / rates.exact(b.onramp)


def _membership_number(st: MockState, t: dict[str, Any], user: UserRow, b: Token) -> str | None:
    """The number used for a miles token: the request's override, else the saved one."""
    override = optional_string(t, "brandB_membership_number")
    if b.provider is None:
        return None
    if override is not None:
        if not valid_number(b.provider, override, brand_id=OWN_BRAND, auth_id=user.auth_id):
            raise ApiError(f"invalid {b.provider} membership number")
        if st.fault("exchange-override-needs-saved-membership") and st.store.membership(
            user.pk, b.provider
        ) is None:
            raise ApiError(f"the user has no {b.provider} membership; save one first")
        if st.fault("exchange-membership-override-stored"):
            st.store.put_membership(user.pk, b.provider, override, keep_first=False)
        return override
    saved = st.store.membership(user.pk, b.provider)
    if saved is None and st.fault("exchange-miles-without-membership-settles"):
        return None  # miles credited to no account
    if saved is None:
        raise ApiError(f"the user has no {b.provider} membership; save one or send brandB_membership_number")
    return saved


def _exchange_amount(st: MockState, t: dict[str, Any]) -> int:
    """The exchange's amount; the exchange-bool-amount fault reads JSON true as 1, as Python's int does."""
    value = t.get("amount")
    if isinstance(value, bool) and st.fault("exchange-bool-amount"):
        return amount({**t, "amount": int(value)})
    return amount(t, truncate_decimals=st.fault("exchange-decimal-amount"))


async def _exchange(st: MockState, t: dict[str, Any]) -> TxRow:
    amt = _exchange_amount(st, t)
    override_dec = rate_override(t)
    user = _user_for_tx(st, t)
    a = _token(t, "brandA_token_id")
    b = _token(t, "brandB_token_id")
    reverse_listed = (b.id, a.id) in PAIR_INDEX
    allowed = (a.id, b.id) in PAIR_INDEX or (
        reverse_listed
        and (
            st.fault("exchange-two-way")
            # the fault lets brand -> X through where only the inbound X -> brand is listed
            or (st.fault("exchange-reverse-of-inbound-allowed") and a.id == BRAND_TOKEN_ID)
        )
    )
    if not allowed:
        raise ApiError(f"exchange not allowed from token {a.id} to token {b.id}")
    if b.type == "erc721":
        raise ApiError(f"token {b.id} is an NFT; use reward_type {NFT_TYPE!r}")
    number = _membership_number(st, t, user, b)
    override = rates.exact(override_dec) if override_dec is not None else None
    rate = _rate(st, a, b, override)
    if st.fault("exchange-float-math"):
        got = (
            rates.received_float(amt, override_dec, 1)
            if override_dec is not None
            else rates.received_float(amt, a.offramp or 0, b.onramp or 1)
        )
    else:
        got = rates.received(amt, rate, round_nearest=st.fault("exchange-round-nearest"))
    if got > MAX_AMOUNT:
        raise ApiError("the amount to receive is too large")
    if got == 0 and st.variant("busy-service"):
        raise ApiError(f"exchanging {amt} points of token {a.id} gives 0 of token {b.id}; send more")
    return await _accept(st, user, a, b, amt, str(got), "exchange", b.provider, number)


async def _nft(st: MockState, t: dict[str, Any]) -> TxRow:
    for key in ("from_token_id", "to_token_id", "user_auth_id"):
        if t.get(key) is None:
            raise ApiError(f"transaction.{key} is required")
    user = _user_for_tx(st, t)
    src = _token(t, "from_token_id")
    nft = _nft_token(st, t, src)
    if nft.type != "erc721" or (src.id, nft.id) not in PAIR_INDEX:
        raise ApiError(f"points to NFT not allowed from token {src.id} to token {nft.id}")
    if nft.onramp is None or src.onramp is None:
        raise ApiError("the tokens have no onramp value")
    burned = rates.nft_burn(nft.onramp, src.onramp, use_floor=st.fault("nft-floor"))
    return await _accept(st, user, src, nft, burned, "1", NFT_TYPE, None, None)


def _nft_token(st: MockState, t: dict[str, Any], src: Token) -> Token:
    """The NFT asked for; the nft-unknown-token-accepted fault swaps an unknown id for src's first NFT."""
    if st.fault("nft-unknown-token-accepted") and token_id(t, "to_token_id") not in TOKENS:
        for a_id, b_id in PAIR_INDEX:
            if a_id == src.id and TOKENS[b_id].type == "erc721":
                return TOKENS[b_id]
    return _token(t, "to_token_id")


async def _accept(
    st: MockState, user: UserRow, a: Token, b: Token, amt: int, got: str, kind: str,
    provider: str | None, number: str | None,
) -> TxRow:
    """Check the balance, debit (unless debit-at-settlement) and queue the row, atomically."""
    store = st.store
    settle_after = time.time() + st.config.settle_delay
    if st.fault("race-overdraw") and kind == "exchange":
        if store.balance(user.pk, a.id) < amt:
            raise ApiError("insufficient balance")
        await asyncio.sleep(RACE_PAUSE)
        store.add_balance(user.pk, a.id, -amt)
        return store.insert_tx(
            type=kind, status="pending", user_pk=user.pk, token_id=a.id, token_to_id=b.id, amount=amt,
            amount_received=got, provider=provider, membership_number=number, settle_after=settle_after,
        )
    debit_now = not st.variant("debit-at-settlement")
    with store.transaction():
        available = store.balance(user.pk, a.id)
        if not debit_now and not st.variant("no-pending-hold"):
            available -= store.pending_hold(user.pk, a.id)
        if available < amt and not st.fault("exchange-overdraw"):
            raise ApiError("insufficient balance")
        if available == amt and kind == "exchange" and st.fault("exchange-exact-balance-refused"):
            raise ApiError("insufficient balance")
        merge = kind == "exchange" and st.fault("race-merged-exchanges")
        if merge:
            merged = _merge_into(st, user.pk)
            if merged is not None:
                store.add_balance(user.pk, a.id, -amt)  # debited, yet no row of its own
                return merged
        if debit_now:
            store.add_balance(user.pk, a.id, -amt)
        row = store.insert_tx(
            type=kind, status="pending", user_pk=user.pk, token_id=a.id, token_to_id=b.id, amount=amt,
            amount_received=got, provider=provider, membership_number=number, settle_after=settle_after,
            debited=debit_now,
        )
        if merge:
            st.last_exchange[user.pk] = (time.monotonic(), row.id)
        return row


def _merge_into(st: MockState, user_pk: int) -> TxRow | None:
    """race-merged-exchanges: the user's exchange recorded less than MERGE_WINDOW ago, if any."""
    last = st.last_exchange.get(user_pk)
    if last is None or time.monotonic() - last[0] > MERGE_WINDOW:
        return None
    return st.store.tx_by_id(last[1])
