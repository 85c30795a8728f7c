"""WL: the exchange whitelist and its token_to_types filter."""

from __future__ import annotations

from qiibee_conformance.checks.base import check, describe, ensure, expect_status
from qiibee_conformance.checks.context import CheckContext
from qiibee_conformance.checks.list_filters import unknown_value_verdict
from qiibee_conformance.client import Response
from qiibee_conformance.discovery import WHITELIST_PATH, Pair, parse_token_id, parse_whitelist
from qiibee_conformance.findings import Nonconformity, Untestable

FILTER = "token_to_types"
# The notes: "`token_to_types` filters by the type of `to_token` (erc20, erc721,
# external, fiat, miles, crypto, donation)."
DOCUMENTED_TYPES = ("erc20", "erc721", "external", "fiat", "miles", "crypto", "donation")
BOGUS_TYPE = "qc_bogus_type"


def _pair_key(item: object) -> object:
    if not isinstance(item, dict):
        return None
    src, dst = item.get("from_token"), item.get("to_token")
    return (
        item.get("id"),
        parse_token_id(src.get("id")) if isinstance(src, dict) else None,
        parse_token_id(dst.get("id")) if isinstance(dst, dict) else None,
    )


def _whitelist(ctx: CheckContext) -> Response:
    return ctx.client.get(WHITELIST_PATH)


def honours(response: Response, types: list[str]) -> bool:
    """A 200 whose ``data`` is a list of pairs all going to one of ``types``."""
    return (
        response.status == 200
        and isinstance(response.data(), list)
        and all(p.to_token.type in types for p in parse_whitelist(response))
    )


def _filtered(ctx: CheckContext, types: list[str], want: list[str] | None = None) -> Response:
    """The whitelist filtered by ``types``, in whichever tolerated list encoding the target applies
    (``want``: the pair keys the whole answer holds, when the caller knows them)."""

    def send(params: list[tuple[str, str]]) -> Response:
        return ctx.client.get(WHITELIST_PATH, params=params) if params else _whitelist(ctx)

    exact = None if want is None else (lambda r: _keys(r) == want)
    return ctx.api.list_filter(send, FILTER, types, lambda r: honours(r, types), exact=exact)


def probe_selection(pairs: list[Pair]) -> list[str] | None:
    """A selection the unfiltered whitelist visibly breaks, so that filtering by it shows
    which encoding the target reads: a listed type beside other listed types, else a
    documented type no pair has (answered with an empty list when applied)."""
    present = sorted({p.to_token.type for p in pairs})
    if len(present) > 1:
        return present[:1]
    absent = [t for t in DOCUMENTED_TYPES if t not in present]
    return absent[:1] or None


def lists_no_pair(response: Response) -> bool:
    return bool(response.data() == [])


def _inactive(item: object) -> bool:
    """A pair whose status says it is not active; a missing status is read as active."""
    status = item.get("status") if isinstance(item, dict) else None
    return status is not None and str(status).strip().lower() != "active"


@check("WL-01")
def whitelist_shape(ctx: CheckContext) -> None:
    """``{"data": [pair, ...]}`` of active partnerships only (D83). An empty list has the shape,
    but leaves nothing to judge: untestable (as are the exchange rules, D87)."""
    response = _whitelist(ctx)
    expect_status(response, (200,), f"GET {WHITELIST_PATH}")
    data = response.data()
    ensure(isinstance(data, list), f'expected {{"data": [pair, ...]}}, got {describe(response)}', response)
    assert isinstance(data, list)
    for item in data:
        key = _pair_key(item)
        if not isinstance(key, tuple) or key[1] is None or key[2] is None:
            raise Nonconformity(
                f"a pair without from_token/to_token objects with token ids: {item!r:.300}", [response]
            )
    inactive = [item for item in data if _inactive(item)]
    ensure(
        not inactive,
        f"the whitelist lists {len(inactive)} partnership(s) that are not active (it lists active ones "
        f"only): {inactive[0]!r:.300}"
        if inactive
        else "",
        response,
        expected='only pairs with status "active"',
        actual=", ".join(sorted({str(i.get("status")) for i in inactive if isinstance(i, dict)})),
    )
    if not data:
        raise Untestable(
            f'GET {WHITELIST_PATH} answered {{"data": []}}: the shape conforms, but no partnership is '
            "listed to judge"
        )


def _keys(response: Response) -> list[str]:
    data = response.data()
    return sorted(str(_pair_key(item)) for item in (data if isinstance(data, list) else []))


@check("WL-02")
def token_to_types_filter(ctx: CheckContext) -> None:
    """token_to_types returns exactly the pairs whose to_token.type is listed (D84), in any of
    the tolerated list encodings (D85)."""
    everything = _whitelist(ctx)
    expect_status(everything, (200,), f"GET {WHITELIST_PATH}")
    pairs = parse_whitelist(everything)
    if not pairs:
        raise Untestable(f"GET {WHITELIST_PATH} lists no partnership: there is nothing to filter")
    types = sorted({p.to_token.type for p in pairs})
    selections = [[t] for t in types]
    if len(types) > 1:
        selections.append(types[:2])
    for selection in selections:
        want = sorted(str(_pair_key(p.raw)) for p in pairs if p.to_token.type in selection)
        filtered = _filtered(ctx, selection, want)
        expect_status(filtered, (200,), f"GET {WHITELIST_PATH} filtered by {selection}")
        got = _keys(filtered)
        ensure(
            got == want,
            f"token_to_types={selection} returned {len(got)} pairs, expected exactly the {len(want)} pairs "
            "whose to_token.type is listed",
            everything,
            filtered,
        )


@check("WL-03")
def unknown_type(ctx: CheckContext) -> None:
    everything = _whitelist(ctx)
    expect_status(everything, (200,), f"GET {WHITELIST_PATH}")
    selection = probe_selection(parse_whitelist(everything))
    if ctx.api.list_encoding_known(FILTER) is None and selection:
        _filtered(ctx, selection)  # proves (and keeps) the encoding the target reads, if it can be seen

    def send(params: list[tuple[str, str]]) -> Response:
        return ctx.client.get(WHITELIST_PATH, params=params)

    answers = ctx.api.list_unknown_value(send, FILTER, BOGUS_TYPE)
    verdict = unknown_value_verdict(answers, lists_no_pair)
    shown = "; ".join(f"{FILTER} as {encoding}: {describe(r)}" for encoding, r in answers)
    if verdict == "nonconformity":
        raise Nonconformity(
            f"an unknown token_to_types value ({BOGUS_TYPE!r}) must give a 4xx or 200 with an empty "
            f"list; got {shown}",
            [r for _, r in answers],
        )
    if verdict == "untestable":
        raise Untestable(
            f"token_to_types is applied in neither list encoding here ({shown}), so an unknown value "
            "cannot be told from an ignored parameter (see WL-02)"
        )
