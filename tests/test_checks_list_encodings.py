"""List-filter encodings: the suite trusts an encoding only when its effect is visible.

The notes tolerate ``types[]=a&types[]=b`` and ``types=a&types=b`` and a correct target
may read either one alone, ignoring (or rejecting with 400) the other. These tests run
the negotiation against in-process fake targets of every such kind, including the data
shapes where an ignored parameter looks applied (every pair of one type), and check
that no correct target is failed and that a target matching unknown values still is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from itertools import product
from typing import Any, cast
from urllib.parse import urlencode

import pytest

from qiibee_conformance.checks.context import CheckContext
from qiibee_conformance.checks.list_filters import filter_visible, pick_answer, unknown_value_verdict
from qiibee_conformance.checks.whitelist import (
    _filtered,
    lists_no_pair,
    probe_selection,
    token_to_types_filter,
    unknown_type,
)
from qiibee_conformance.client import ApiClient, Response
from qiibee_conformance.discovery import create_user, credit, parse_whitelist
from qiibee_conformance.embedded import EmbeddedMock
from qiibee_conformance.evidence import Exchange
from qiibee_conformance.findings import Nonconformity, Untestable
from qiibee_conformance.loadtest.plan import NO_TYPES_FILTER, _types_key, probe_kind
from qiibee_conformance.mock.catalogue import BRAND_TOKEN_ID

DOCUMENTED = {"erc20", "erc721", "external", "fiat", "miles", "crypto", "donation"}
EVENTS = {"credit_points", "debit_points", "exchange"}


def response(status: int, body: Any, url: str = "http://fake/") -> Response:
    text = "" if body is None else json.dumps(body)
    exchange = Exchange("GET", url, {}, None, status, {}, text, 1.0)
    return Response(status=status, headers={}, text=text, exchange=exchange)


class FakeTarget:
    """One list filter ``name`` over ``items``, read in the ``reads`` encodings only.

    ``other``: what a list encoding it does not read gets ("ignore" or "400");
    ``unknown``: an unknown value gives "empty" (200 []), "400", or "all" (broken:
    the value is dropped and every item comes back)."""

    def __init__(
        self,
        name: str,
        items: list[dict[str, Any]],
        kind: Any,
        known: set[str],
        *,
        reads: tuple[str, ...],
        other: str = "ignore",
        unknown: str = "empty",
        envelope: Any = None,
    ) -> None:
        self.name, self.items, self.kind, self.known = name, items, kind, known
        self.reads, self.other, self.unknown = reads, other, unknown
        self.envelope = envelope or (lambda rows: rows)
        self.sent: list[list[tuple[str, str]]] = []

    def get(self, path: str, params: Any = None) -> Response:
        pairs = [(str(k), str(v)) for k, v in (params.items() if isinstance(params, dict) else params or [])]
        self.sent.append(pairs)
        url = f"http://fake{path}?{urlencode(pairs)}"
        items = list(self.items)
        values: list[str] = []
        for key, value in pairs:
            encoding = "brackets" if key == self.name + "[]" else "repeat" if key == self.name else None
            if key == "user_auth_id":
                items = [i for i in items if i.get("user_auth_id") == value]
            elif encoding in self.reads:
                values.append(value)
            elif encoding is not None and self.other == "400":
                return response(400, {"error": f"unknown parameter {key}"}, url)
        if values:
            unknown = [v for v in values if v not in self.known]
            if unknown and self.unknown == "400":
                return response(400, {"error": f"unknown type {unknown[0]}"}, url)
            if self.unknown == "all":
                values = [v for v in values if v in self.known]
            if values:
                items = [i for i in items if self.kind(i) in values]
        return response(200, {"data": self.envelope(items[:100])}, url)


def pair(n: int, to_type: str) -> dict[str, Any]:
    return {
        "id": n,
        "from_token": {"id": 1, "type": "erc20", "name": "brand"},
        "to_token": {"id": 100 + n, "type": to_type, "name": f"t{n}"},
        "status": "active",
    }


ONE_TYPE = [pair(1, "erc20"), pair(2, "erc20"), pair(3, "erc20")]
MIXED = [pair(1, "erc20"), pair(2, "fiat"), pair(3, "donation"), pair(4, "erc20")]


def whitelist_target(pairs: list[dict[str, Any]], **kwargs: Any) -> FakeTarget:
    return FakeTarget("token_to_types", pairs, lambda p: p["to_token"]["type"], DOCUMENTED, **kwargs)


def context(client: Any) -> CheckContext:
    return CheckContext(settings=cast(Any, None), client=client)


CORRECT = list(
    product(
        [("brackets",), ("repeat",), ("brackets", "repeat")],  # encodings read
        ["ignore", "400"],  # the other encoding
        ["empty", "400"],  # unknown values
        [ONE_TYPE, MIXED],
    )
)


def _ids(values: Iterator[Any] | list[Any]) -> list[str]:
    out = []
    for reads, other, unknown, pairs in values:
        shape = "one-type" if pairs is ONE_TYPE else "mixed"
        out.append(f"{'+'.join(reads)}-other-{other}-unknown-{unknown}-{shape}")
    return out


# list_filter ---------------------------------------------------------------------------------
def test_an_ignored_encoding_that_looks_applied_is_not_kept() -> None:
    """Every pair is erc20: filtering by erc20 looks applied whether or not it was read."""
    target = whitelist_target(ONE_TYPE, reads=("repeat",))
    ctx = context(target)
    answer = _filtered(ctx, ["erc20"])
    assert answer.status == 200 and len(parse_whitelist(answer)) == 3
    assert ctx.api.list_encoding_known("token_to_types") is None


@pytest.mark.parametrize("other", ["ignore", "400"])
@pytest.mark.parametrize("reads", [("brackets",), ("repeat",)])
def test_a_visible_encoding_is_kept(reads: tuple[str, ...], other: str) -> None:
    ctx = context(whitelist_target(MIXED, reads=reads, other=other))
    answer = _filtered(ctx, ["fiat"])
    assert [p.to_token.type for p in parse_whitelist(answer)] == ["fiat"]
    assert ctx.api.list_encoding_known("token_to_types") == reads[0]


def test_undecided_answer_prefers_a_200_over_a_rejected_encoding() -> None:
    """Brackets rejected with 400, the filter invisible: the check must judge the 200."""
    ctx = context(whitelist_target(ONE_TYPE, reads=("repeat",), other="400"))
    answer = _filtered(ctx, ["erc20"])
    assert answer.status == 200
    assert ctx.api.list_encoding_known("token_to_types") is None


def test_filter_visible_needs_a_200_that_breaks_the_filter() -> None:
    def applied(r: Response) -> bool:
        return all(p.to_token.type == "fiat" for p in parse_whitelist(r))

    assert filter_visible(response(200, {"data": MIXED}), applied)
    assert not filter_visible(response(200, {"data": [pair(1, "fiat")]}), applied)
    assert not filter_visible(response(500, {"error": "boom"}), applied)
    assert not filter_visible(response(200, {"data": []}), applied)


def test_pick_answer_order() -> None:
    def applied(r: Response) -> bool:
        return bool(r.data() == [])

    rejected, ignored, honoured = (
        response(400, {"error": "x"}),
        response(200, {"data": [1]}),
        response(200, {"data": []}),
    )
    assert pick_answer([rejected, ignored, honoured], applied) is honoured
    assert pick_answer([rejected, ignored], applied) is ignored
    assert pick_answer([rejected, response(404, {"error": "y"})], applied) is rejected


# WL-02 / WL-03 -------------------------------------------------------------------------------
@pytest.mark.parametrize(("reads", "other", "unknown", "pairs"), CORRECT, ids=_ids(CORRECT))
def test_correct_whitelists_pass(
    reads: tuple[str, ...], other: str, unknown: str, pairs: list[dict[str, Any]]
) -> None:
    for run in (("WL-02", "WL-03"), ("WL-03", "WL-02"), ("WL-03",)):  # any order, fresh run each time
        ctx = context(whitelist_target(pairs, reads=reads, other=other, unknown=unknown))
        for rid in run:
            (token_to_types_filter if rid == "WL-02" else unknown_type)(ctx)


@pytest.mark.parametrize(("reads", "other", "unknown", "pairs"), CORRECT, ids=_ids(CORRECT))
def test_a_whitelist_matching_unknown_values_fails_wl03(
    reads: tuple[str, ...], other: str, unknown: str, pairs: list[dict[str, Any]]
) -> None:
    del unknown  # the broken target drops unknown values instead
    ctx = context(whitelist_target(pairs, reads=reads, other=other, unknown="all"))
    with pytest.raises(Nonconformity, match="unknown token_to_types value"):
        unknown_type(ctx)


def test_wl03_is_untestable_when_no_encoding_is_read() -> None:
    ctx = context(whitelist_target(ONE_TYPE, reads=()))
    with pytest.raises(Untestable):
        unknown_type(ctx)


@pytest.mark.parametrize("reads", [("brackets",), ("repeat",)])
def test_wl03_undecided_sends_both_encodings(reads: tuple[str, ...]) -> None:
    """A target answering 400 for a documented type it lists no pair of: no probe shows the
    encoding, so the unknown value goes in both, and the one read answering 400 suffices."""
    target = FakeTarget(
        "token_to_types", ONE_TYPE, lambda p: p["to_token"]["type"], {"erc20"}, reads=reads, unknown="400"
    )
    ctx = context(target)
    unknown_type(ctx)
    assert ctx.api.list_encoding_known("token_to_types") is None
    bogus = [sent for sent in target.sent if any(v == "qc_bogus_type" for _, v in sent)]
    assert sorted(k for sent in bogus for k, _ in sent) == ["token_to_types", "token_to_types[]"]


def test_probe_selection() -> None:
    """A listed type beside others, else a documented type no pair has, else nothing."""
    assert probe_selection(parse_whitelist(response(200, {"data": MIXED}))) == ["donation"]
    assert probe_selection(parse_whitelist(response(200, {"data": ONE_TYPE}))) == ["erc721"]
    assert probe_selection(parse_whitelist(response(200, {"data": []}))) == ["erc20"]
    every = [pair(n, t) for n, t in enumerate(sorted(DOCUMENTED), 1)]
    assert probe_selection(parse_whitelist(response(200, {"data": every}))) == ["crypto"]
    assert probe_selection(parse_whitelist(response(200, {"data": [pair(1, "crypto")]}))) == ["erc20"]


@pytest.mark.parametrize(
    ("statuses", "verdict"),
    [
        ([(200, [])], None),
        ([(400, None)], None),
        ([(200, [1])], "nonconformity"),
        ([(500, None)], "nonconformity"),
        ([(200, [1]), (200, [])], None),
        ([(400, None), (200, [1])], None),
        ([(200, [1]), (200, [1])], "untestable"),
        ([(404, None), (200, [1])], None),  # D86: any 4xx, as a 400
        ([(502, None), (200, [])], "nonconformity"),
    ],
)
def test_unknown_value_verdict(statuses: list[tuple[int, Any]], verdict: str | None) -> None:
    answers = [
        (f"e{i}", response(s, {"data": d} if d is not None else {"error": "x"}))
        for i, (s, d) in enumerate(statuses)
    ]
    assert unknown_value_verdict(answers, lists_no_pair) == verdict


# the load plan's `types` key -----------------------------------------------------------------
def row(n: int, kind: str, user: str = "u0") -> dict[str, Any]:
    return {"id": n, "loyalty_event_type": kind, "user_auth_id": user, "inserted_at": "2024-01-01T00:00:00Z"}


def history_target(rows: list[dict[str, Any]], **kwargs: Any) -> FakeTarget:
    return FakeTarget(
        "types",
        rows,
        lambda r: r["loyalty_event_type"],
        EVENTS,
        envelope=lambda items: {"transactions": items, "total_tx_count": len(items)},
        **kwargs,
    )


MIXED_ROWS = [row(n, ("credit_points", "exchange", "debit_points")[n % 3]) for n in range(30)]
CREDITS_ONLY = [row(n, "credit_points", f"u{n}") for n in range(4)]


def _history_rows(target: FakeTarget) -> list[dict[str, Any]]:
    data = target.get("/transactions", params=[("limit", "100")]).data()
    return list(data["transactions"])


@pytest.mark.parametrize("other", ["ignore", "400"])
@pytest.mark.parametrize(("reads", "key"), [(("brackets",), "types[]"), (("repeat",), "types")])
@pytest.mark.parametrize("rows", [MIXED_ROWS, CREDITS_ONLY], ids=["mixed", "credits-only"])
def test_types_key_finds_the_encoding_read(
    rows: list[dict[str, Any]], reads: tuple[str, ...], key: str, other: str
) -> None:
    target = history_target(rows, reads=reads, other=other)
    assert _types_key(cast(Any, target), _history_rows(target)) == key


def test_types_key_uses_a_plan_user_when_the_sample_shows_nothing() -> None:
    target = history_target(CREDITS_ONLY, reads=("repeat",))
    assert _types_key(cast(Any, target), [], ["u2"]) == "types"
    assert any(("user_auth_id", "u2") in sent for sent in target.sent)


@pytest.mark.parametrize("rows", [[], CREDITS_ONLY], ids=["empty", "credits-only"])
def test_types_key_is_empty_when_no_encoding_is_seen(rows: list[dict[str, Any]]) -> None:
    target = history_target(rows, reads=())
    assert _types_key(cast(Any, target), _history_rows(target)) == NO_TYPES_FILTER


def test_probe_kind_needs_rows_of_another_type() -> None:
    assert probe_kind([]) is None
    assert probe_kind(CREDITS_ONLY) == "debit_points"
    assert (
        probe_kind([row(1, "credit_points"), row(2, "debit_points"), row(3, "exchange")]) == "credit_points"
    )


def test_walks_do_not_filter_by_type_without_a_key() -> None:
    """Run in a fresh interpreter: importing Locust patches gevent into this one."""
    code = """
import random
from types import SimpleNamespace
from qiibee_conformance.loadtest.users import QiibeeUser  # first: Locust patches ssl
from qiibee_conformance.loadtest.plan import LoadPlan
plan = LoadPlan(base_url="http://fake", run_id="r", brand_token_id=1, types_key="")
fake = SimpleNamespace(ctx=SimpleNamespace(plan=plan, history_filters=True))
random.seed(7)
assert not any(QiibeeUser.random_filters(fake).types for _ in range(300))
plan.types_key = "types"
filters = [QiibeeUser.random_filters(fake) for _ in range(300)]
assert any(f.types for f in filters)
assert all(("types", t) in f.query(10, 0) for f in filters for t in f.types)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("variants", "key"),
    [
        ([], "types[]"),
        (["lists-repeat-only"], "types"),
        (["lists-repeat-only", "unknown-filter-400"], "types"),
    ],
)
def test_types_key_on_a_fresh_mock_with_only_credits(
    variants: list[str], key: str, start_mock: Callable[..., EmbeddedMock]
) -> None:
    """A history holding only the plan's funding credits still shows the encoding."""
    mock = start_mock(variants=variants)
    client = ApiClient(mock.base_url, mock.api_key)
    user = create_user(client, "qc-lists@example.com")
    assert credit(client, user, BRAND_TOKEN_ID, 100).status == 202
    first = client.get("/transactions", params=[("limit", "100")]).data()["transactions"]
    assert {r["loyalty_event_type"] for r in first} == {"credit_points"}
    assert _types_key(client, first, [user]) == key
