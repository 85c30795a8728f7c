"""GET /transactions: paginated history, newest first, with every documented filter.

Time filters compare at the precision the rows are shown with: whole seconds by
default (so a row's own ``inserted_at`` used as from_time or to_time includes
it), microseconds under zoned-times.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import Response

from qiibee_conformance.mock.catalogue import EVENT_TYPES
from qiibee_conformance.mock.render import RENAMED_TYPES
from qiibee_conformance.mock.state import MockState, state_of
from qiibee_conformance.mock.store import TxFilter
from qiibee_conformance.mock.validation import DIGITS_RE, ApiError, list_param, page, time_us

SECOND = 1_000_000


def _time_window(st: MockState, flt: TxFilter, from_us: int | None, to_us: int | None) -> None:
    exclusive = st.fault("history-from-time-exclusive")
    if st.fault("history-to-time-ignored"):
        to_us = None
    if st.variant("zoned-times"):
        flt.from_us, flt.from_exclusive = from_us, exclusive
        flt.to_us = _to_bound(st, to_us, 1)
        return
    if from_us is not None:
        if exclusive:
            flt.from_us = (from_us // SECOND + 1) * SECOND
        else:
            flt.from_us = -(-from_us // SECOND) * SECOND
    flt.to_us = _to_bound(st, to_us, SECOND)


def _to_bound(st: MockState, to_us: int | None, unit: int) -> int | None:
    """The last microsecond to_time lets through, rows compared at ``unit`` precision: the
    whole unit of to_time (inclusive), or under history-to-time-exclusive not a row at
    exactly to_time (the unit before it, when to_time falls on a unit's start)."""
    if to_us is None:
        return None
    if st.fault("history-to-time-exclusive") and to_us % unit == 0:
        return to_us - 1
    return (to_us // unit) * unit + unit - 1


def _empty(st: MockState, limit: int, offset: int) -> Response:
    fields = {"limit": limit, "offset": offset, "total_tx_count": 0}
    return st.raw(st.renderer.page(fields, "transactions", []))


async def list_transactions(request: Request) -> Response:
    st = state_of(request)
    q = request.query_params
    literal = st.variant("literal-reading")
    limit, offset = page(
        q.get("limit"),
        q.get("offset"),
        reject_over_max=st.variant("limit-400"),
        unbounded=st.fault("history-limit-unbounded"),
        literal=literal,
    )
    flt = TxFilter()
    if not _user_filter(st, flt, q.get("user_auth_id")):
        return _empty(st, limit, offset)
    _types_filter(st, flt, list_param(q, "types", brackets=not st.variant("lists-repeat-only")))
    _token_filter(st, flt, q.get("token_id"))
    bad_time = 404 if literal else 400  # literal-reading: "Bad data: HTTP 404 with error message"
    from_us = time_us(q.get("from_time"), "from_time", bad_time)
    _time_window(st, flt, from_us, time_us(q.get("to_time"), "to_time", bad_time))
    ids, items, total = _select(st, flt, limit, offset)
    if st.fault("history-empty-user-404") and flt.user_pk is not None and total == 0:
        raise ApiError("no transactions for this user", 404)
    if st.fault("history-total-page"):
        total = len(ids)
    fields = {"limit": limit, "offset": offset, "total_tx_count": total}
    return st.raw(st.renderer.page_bytes(fields, "transactions", _fill(st, ids, items)))


def _user_filter(st: MockState, flt: TxFilter, auth_id: str | None) -> bool:
    """Apply ``user_auth_id``; False when it names no user (the answer is then an empty page)."""
    if not auth_id:
        return True
    user = st.store.user_by_auth_id(auth_id)
    if st.fault("history-user-filter-ignored"):
        return True
    if user is None:
        if st.variant("unknown-history-user-404"):
            raise ApiError(f"user {auth_id!r} not found", 404)
        return False
    flt.user_pk = user.pk
    return True


def _types_filter(st: MockState, flt: TxFilter, types: list[str]) -> None:
    if types and st.fault("exchange-row-type-renamed"):  # the renamed type is the one filtered on
        stored = {shown: kept for kept, shown in RENAMED_TYPES.items()}
        types = [stored.get(t, f"{t} (renamed)" if t in RENAMED_TYPES else t) for t in types]
    if not types:
        return
    unknown = [t for t in types if t not in EVENT_TYPES]
    if unknown and st.variant("unknown-filter-400"):
        raise ApiError(f"unknown loyalty event type {unknown[0]!r}")
    if not st.fault("history-types-ignored"):
        known = [t for t in types if t in EVENT_TYPES]
        flt.types = known[:1] if st.fault("history-types-first-only") else known


def _token_filter(st: MockState, flt: TxFilter, token_raw: str | None) -> None:
    if not token_raw:
        return
    if not DIGITS_RE.match(token_raw) or len(token_raw) > 18:
        raise ApiError("token_id must be an integer")
    if not st.fault("history-token-filter-ignored"):
        flt.token_id = int(token_raw)
        flt.token_matches_to = st.variant("token-filter-both")


def _select(
    st: MockState, flt: TxFilter, limit: int, offset: int
) -> tuple[Sequence[int], list[bytes | None], int]:
    """The page's transaction ids, their cached renderings (None where not cached) and the total."""
    query_offset = offset + 1 if offset and st.fault("history-offset-skip") else offset
    oldest_first = st.fault("history-oldest-first")
    if flt.is_empty():
        ids, total = st.store.unfiltered_ids(limit=limit, offset=query_offset, oldest_first=oldest_first)
        return ids, st.renderer.cached_ids(ids), total
    refs, total = st.store.list_tx_refs(
        flt, limit=limit, offset=query_offset, oldest_first=oldest_first,
        page_first=st.fault("history-filtered-short-pages"),
    )
    return [ref[0] for ref in refs], st.renderer.cached_refs(refs), total


def _fill(st: MockState, ids: Sequence[int], items: list[bytes | None]) -> list[bytes]:
    """The page's rows in order: cache hits as they are, misses read in full, rendered and cached."""
    missing = [tx_id for tx_id, item in zip(ids, items, strict=True) if item is None]
    if not missing:
        return [item for item in items if item is not None]
    store, renderer = st.store, st.renderer
    with store.lock:  # rows and their users read in one step
        rows = store.txs_by_id(missing)
        users = store.users_by_pk(sorted({r.user_pk for r in rows.values()}))
    out: list[bytes] = []
    for tx_id, item in zip(ids, items, strict=True):
        if item is None:
            row = rows[tx_id]
            out.append(renderer.cache_tx(row, users[row.user_pk]))
        else:
            out.append(item)
    return out
