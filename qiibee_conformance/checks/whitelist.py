"""WL: the exchange whitelist and its token_to_types filter."""

from __future__ import annotations

from qiibee_conformance.checks.base import Nonconformity, Untestable, check, describe, ensure, expect_status
from qiibee_conformance.checks.context import CheckContext, list_param
from qiibee_conformance.client import Response
from qiibee_conformance.discovery import WHITELIST_PATH, parse_token_id, parse_whitelist


def _pair_key(item: object) -> object:
    if not isinstance(item, dict):
        return None
    src, dst = item.get("from_token"), item.get("to_token")
    return (
        item.get("id"),
        parse_token_id(src.get("id")) if isinstance(src, dict) else None,
        parse_token_id(dst.get("id")) if isinstance(dst, dict) else None,
    )


def _whitelist(ctx: CheckContext, types: list[str] | None = None) -> Response:
    if not types:
        return ctx.client.get(WHITELIST_PATH)
    return ctx.client.get(
        WHITELIST_PATH, params=list_param("token_to_types", types, ctx.list_encoding("token_to_types"))
    )


def _filtered(ctx: CheckContext, types: list[str]) -> Response:
    """The whitelist filtered by ``types``, in whichever tolerated list encoding the target applies."""

    def applied(response: Response) -> bool:
        return all(p.to_token.type in types for p in parse_whitelist(response))

    return ctx.list_filter(
        lambda params: ctx.client.get(WHITELIST_PATH, params=params), "token_to_types", types, applied
    )


@check("WL-01")
def whitelist_shape(ctx: CheckContext) -> None:
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
    ensure(parse_whitelist(response), "the whitelist lists no pair", response)


@check("WL-02")
def token_to_types_filter(ctx: CheckContext) -> None:
    everything = _whitelist(ctx)
    expect_status(everything, (200,), f"GET {WHITELIST_PATH}")
    pairs = parse_whitelist(everything)
    types = sorted({p.to_token.type for p in pairs})
    selections = [[t] for t in types]
    if len(types) > 1:
        selections.append(types[:2])
    for selection in selections:
        filtered = _filtered(ctx, selection)
        expect_status(filtered, (200,), f"GET {WHITELIST_PATH} filtered by {selection}")
        got = sorted(map(str, (_pair_key(i) for i in (filtered.data() or []))))
        want = sorted(str(_pair_key(p.raw)) for p in pairs if p.to_token.type in selection)
        ensure(
            got == want,
            f"token_to_types={selection} returned {len(got)} pairs, expected exactly the {len(want)} pairs "
            "whose to_token.type is listed",
            everything,
            filtered,
        )


@check("WL-03")
def unknown_type(ctx: CheckContext) -> None:
    response = _whitelist(ctx, ["qc_bogus_type"])
    expect_status(response, (200, 400), f"GET {WHITELIST_PATH} with an unknown token_to_types value")
    if response.status == 200 and response.data() != []:
        # A filter that is ignored altogether is WL-02's finding; this check is about unknown values.
        everything = parse_whitelist(_whitelist(ctx))
        some_type = everything[0].to_token.type if everything else ""
        known = parse_whitelist(_whitelist(ctx, [some_type])) if some_type else []
        if any(p.to_token.type != some_type for p in known):
            raise Untestable("token_to_types is not applied even to a known type (see WL-02)")
        raise Nonconformity(f"an unknown token type matched pairs: {describe(response)}", [response])
