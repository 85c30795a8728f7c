"""Read-only views: the exchange whitelist and a user's balances."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from qiibee_conformance.mock.catalogue import BRAND_TOKEN_ID, INACTIVE_PAIRS, PAIRS, TOKEN_TYPES, TOKENS
from qiibee_conformance.mock.state import MockState, state_of
from qiibee_conformance.mock.validation import ApiError, list_param


async def whitelist(request: Request) -> Response:
    """All active pairs; ``token_to_types`` (repeated, ``[]`` or comma separated) filters by to_token.type.

    The whitelist-lists-inactive fault adds the paused partnership, with its real status."""
    st = state_of(request)
    q = request.query_params
    wanted = list_param(q, "token_to_types", brackets=not st.variant("lists-repeat-only"))
    pairs = [*PAIRS, *INACTIVE_PAIRS] if st.fault("whitelist-lists-inactive") else list(PAIRS)
    if st.fault("whitelist-unknown-type-all"):  # unknown values dropped: none known left, no filter
        wanted = [w for w in wanted if w in TOKEN_TYPES]
    if wanted and not st.fault("whitelist-filter-ignored"):
        unknown = [w for w in wanted if w not in TOKEN_TYPES]
        if unknown and st.variant("unknown-filter-400"):
            raise ApiError(f"unknown token type {unknown[0]!r}")
        pairs = [p for p in pairs if TOKENS[p.to_id].type in wanted]
    return st.ok([st.renderer.pair(p) for p in pairs])


def _balance(st: MockState, token_id: int, amount: int) -> dict[str, Any]:
    """One entry; the balances-digit-strings fault writes the balance as a string ("120")."""
    entry = st.renderer.balance(token_id, amount)
    if st.fault("balances-digit-strings"):
        entry["balance"] = str(amount)
    return entry


async def balances(request: Request) -> Response:
    """The brand's own token always (even 0), then every token the user holds."""
    st = state_of(request)
    user = st.store.user_by_auth_id(request.path_params["auth_id"])
    if user is None:
        if st.fault("balances-unknown-user-200"):
            return st.ok([_balance(st, BRAND_TOKEN_ID, 0)])
        raise ApiError("user not found", 404)
    held = dict(st.store.balances(user.pk))
    own = held.pop(BRAND_TOKEN_ID, 0)
    entries = [_balance(st, BRAND_TOKEN_ID, own)]
    entries += [_balance(st, tid, amt) for tid, amt in held.items() if tid in TOKENS]
    return st.ok(entries)
