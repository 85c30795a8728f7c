"""Unit tests of the load run's pure parts: SLO gates, page checks, ledger, profile, options."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from qiibee_conformance.cli import main
from qiibee_conformance.client import ApiClient
from qiibee_conformance.discovery import Pair, Token
from qiibee_conformance.errors import RunError
from qiibee_conformance.loadtest import page_decoding
from qiibee_conformance.loadtest.common import (
    parse_timespan,
    rate_limit_pause,
    selected_scenario,
    write_rate_limited,
)
from qiibee_conformance.loadtest.history_checks import Filters, Walk, check_page
from qiibee_conformance.loadtest.ledger import (
    ACCEPT,
    EITHER,
    REJECT,
    Attempt,
    Baseline,
    Finding,
    LedgerContents,
    LedgerWriter,
    read_ledger,
)
from qiibee_conformance.loadtest.page_decoding import PageMemo, decode_json, decode_page
from qiibee_conformance.loadtest.plan import amounts_well_inside_limits
from qiibee_conformance.loadtest.profile import spike_stage
from qiibee_conformance.loadtest.reconciliation import (
    Advisory,
    ReconciliationResult,
    check_acceptances,
    reconcile_run,
)
from qiibee_conformance.loadtest.report import RunRecord, render, split_findings
from qiibee_conformance.loadtest.slo import (
    RouteStats,
    evaluate,
    load_slo,
    parse_locust_stats,
    parse_slo,
    read_rate_limited,
    with_rate_limited,
)
from qiibee_conformance.paths import data_dir

# SLO -----------------------------------------------------------------------------------


def _route(name: str, times: dict[int, int], failures: int = 0, method: str = "GET") -> RouteStats:
    return RouteStats(method, name, sum(times.values()), failures, times)


def test_percentiles_are_nearest_rank() -> None:
    route = _route("/transactions", {1: 50, 10: 45, 100: 4, 900: 1})
    assert route.percentile(Fraction(50, 100)) == 1
    assert route.percentile(Fraction(51, 100)) == 10
    assert route.percentile(Fraction(95, 100)) == 10
    assert route.percentile(Fraction(99, 100)) == 100
    assert route.percentile(Fraction(1)) == 900
    assert _route("/x", {}).percentile(Fraction(1, 2)) is None


def test_route_budget_overrides_defaults_and_breaches_name_route_and_budget() -> None:
    spec = parse_slo(
        """
        [defaults]
        p95_ms = 50
        error_rate = 0.01
        [routes."GET /transactions"]
        p95_ms = 500
        """
    )
    routes = [
        _route("/transactions", {300: 100}),
        _route("/users", {80: 100}),
    ]
    result = evaluate(spec, routes)
    assert not result.ok
    breaches = [v.describe() for v in result.breaches]
    assert breaches == ["GET /users p95_ms 80 ms > 50 ms"]


def test_error_rate_is_compared_exactly() -> None:
    spec = parse_slo("[defaults]\nerror_rate = 0.01\n")
    at_budget = evaluate(spec, [_route("/users", {5: 100}, failures=1)])
    over_budget = evaluate(spec, [_route("/users", {5: 300}, failures=4)])
    assert at_budget.ok
    assert [(v.route, v.budget) for v in over_budget.breaches] == [("GET /users", "error_rate")]


def test_aggregate_budget_judges_all_routes_together() -> None:
    spec = parse_slo("[aggregate]\nerror_rate = 0.1\n")
    routes = [_route("/a", {1: 10}, failures=2), _route("/b", {1: 10}, failures=1)]
    result = evaluate(spec, routes)
    assert [(v.route, v.observed) for v in result.breaches] == [("Aggregated", Decimal("0.15"))]


def test_route_without_requests_is_a_note_not_a_breach() -> None:
    spec = parse_slo('[routes."GET /nothing"]\np50_ms = 1\n')
    result = evaluate(spec, [_route("/users", {5: 3})])
    assert result.ok
    assert any("GET /nothing" in note for note in result.notes)


@pytest.mark.parametrize(
    "text",
    [
        "[defaults]\np96_ms = 3\n",  # unknown budget
        "[defaults]\nerror_rate = 2\n",  # not a fraction
        "[defaults]\np50_ms = -1\n",
        "[defaults]\np50_ms = 'fast'\n",
        "[limits]\n",
        "[defaults\n",  # not TOML
    ],
)
def test_invalid_slo_files_are_run_errors(text: str) -> None:
    with pytest.raises(RunError):
        parse_slo(text)


def test_project_slo_file_loads() -> None:
    spec = load_slo(data_dir("load") / "slo.toml")
    assert spec.budget_for("GET", "/transactions").limits["p95_ms"] > spec.defaults.limits["p95_ms"]


def test_locust_json_histograms_are_read() -> None:
    entries = [
        {
            "name": "/transactions",
            "method": "GET",
            "num_requests": 3,
            "num_failures": 1,
            "response_times": {"12": 2, "150": 1},
        }
    ]
    (route,) = parse_locust_stats(json.loads(json.dumps(entries)))
    assert route.key == "GET /transactions"
    assert route.response_times == {12: 2, 150: 1}
    assert route.error_rate == Fraction(1, 3)


# History page checks -------------------------------------------------------------------


def _row(ident: int, when: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": ident,
        "inserted_at": when,
        "loyalty_event_type": "credit_points",
        "token": {"id": 101},
        "user": {"auth_id": "u1"},
        **extra,
    }


def _page(rows: list[dict[str, Any]], total: int) -> dict[str, Any]:
    return {"data": {"transactions": rows, "total_tx_count": total, "limit": 2, "offset": 0}}


def test_frozen_walk_catches_a_skipped_row() -> None:
    walk = Walk(Filters(to_time="2026-01-01T00:00:00Z"), limit=2, frozen=True)
    assert (
        check_page(walk, 200, _page([_row(5, "2025-01-01T00:00:05"), _row(4, "2025-01-01T00:00:04")], 4))
        == []
    )
    # offset 2 should give rows 3 and 2; a server that skips one returns only row 2
    problems = check_page(walk, 200, _page([_row(2, "2025-01-01T00:00:02")], 4))
    assert [p.rule for p in problems] == ["HIS-04"]
    assert walk.done


def test_frozen_walk_catches_a_row_twice_and_a_changing_total() -> None:
    walk = Walk(Filters(), limit=2, frozen=True)
    check_page(walk, 200, _page([_row(5, "2025-01-01T00:00:05"), _row(4, "2025-01-01T00:00:04")], 4))
    problems = check_page(
        walk, 200, _page([_row(4, "2025-01-01T00:00:04"), _row(3, "2025-01-01T00:00:03")], 5)
    )
    assert {p.rule for p in problems} == {"HIS-03", "HIS-04"}


def test_live_walk_tolerates_rows_pushed_onto_the_next_page() -> None:
    """A row inserted between two pages pushes the newer tail of page 1 onto page 2."""
    walk = Walk(Filters(), limit=2, frozen=False)
    check_page(walk, 200, _page([_row(9, "2025-01-01T00:00:09"), _row(5, "2025-01-01T00:00:05")], 4))
    again = check_page(walk, 200, _page([_row(5, "2025-01-01T00:00:05"), _row(4, "2025-01-01T00:00:04")], 5))
    assert again == []
    assert not walk.done


def test_order_filters_and_page_size_are_checked_on_live_walks() -> None:
    walk = Walk(Filters(user="u1", types=("exchange",), token=202), limit=2, frozen=False)
    rows = [
        _row(1, "2025-01-01T00:00:01"),
        _row(2, "2025-01-01T00:00:09", user={"auth_id": "u2"}),
        _row(3, "2025-01-01T00:00:00"),
    ]
    rules = {p.rule for p in check_page(walk, 200, _page(rows, 3))}
    assert rules == {"HIS-01", "HIS-02", "HIS-05", "HIS-06", "HIS-07"}


def test_ties_within_a_second_and_zoned_times_are_accepted() -> None:
    walk = Walk(
        Filters(from_time="2025-01-01T00:00:00Z", to_time="2025-01-01T00:00:10Z"), limit=3, frozen=False
    )
    rows = [
        _row(1, "2025-01-01T00:00:05.100000Z"),
        _row(2, "2025-01-01T00:00:05.900000Z"),
        _row(3, "2025-01-01T00:00:05"),
    ]
    assert check_page(walk, 200, _page(rows, 3)) == []


def test_time_window_violation_is_his08() -> None:
    walk = Walk(Filters(from_time="2025-01-01T00:00:05Z"), limit=3, frozen=False)
    problems = check_page(walk, 200, _page([_row(1, "2025-01-01T00:00:04")], 1))
    assert [p.rule for p in problems] == ["HIS-08"]


def test_types_are_sent_as_a_list() -> None:
    query = Filters(types=("exchange", "credit_points"), token=7).query(10, 20)
    assert query == [
        ("limit", "10"),
        ("offset", "20"),
        ("types[]", "exchange"),
        ("types[]", "credit_points"),
        ("token_id", "7"),
    ]


def test_walk_path_is_the_encoded_query() -> None:
    filters = Filters(user="a b+c&d", types=("exchange",), token=7, from_time="2025-01-01T00:00:00+01:00")
    for walk in (Walk(Filters(), limit=100, frozen=False), Walk(filters, limit=25, frozen=True, offset=50)):
        assert walk.path() == "/transactions?" + urlencode(walk.filters.query(walk.limit, walk.offset))


@pytest.mark.parametrize("repeat", [1, 2])  # the second pass reads the remembered times
def test_row_times_compare_across_forms(repeat: int) -> None:
    rows = [
        _row(1, "2025-01-01T01:00:09+01:00"),  # 00:00:09Z
        _row(2, " 2025-01-01T00:00:08z "),
        _row(3, "2025-01-01T00:00:07"),
        _row(4, "not a time"),
        _row(5, "2025-01-01T00:00:06.5Z"),
    ]
    for _ in range(repeat):
        assert check_page(Walk(Filters(), limit=5, frozen=False), 200, _page(rows, 5)) == []
    late = [*rows, _row(6, "2025-01-01T02:00:08+01:00")]  # 01:00:08Z, after 00:00:06.5Z
    problems = check_page(Walk(Filters(), limit=6, frozen=False), 200, _page(late, 6))
    assert [p.rule for p in problems] == ["HIS-01"]


# History pages decoded to the fields the checks read -----------------------------------

_FULL_ROW: dict[str, Any] = {
    "id": 7,
    "amount_received": "161",
    "points_burned": "46",
    "loyalty_event_type": "exchange",
    "status": "success",
    "inserted_at": "2025-01-01T00:00:07",
    "token": {"id": 101, "name": "DEMO POINT", "countries": ["AAA"], "metadata": {}},
    "token_to": {"id": "202", "name": "SKYLINE POINT", "onramp": "0.1"},
    "user": {"id": "usr_1", "auth_id": "u1", "metadata": {"opts_newsletter": True}},
    "user_to": None,
    "brand": {"id": "demo_brand", "locations": [], "brand_config": None},
    "tx_hash": "0x0b",
}


_DROP = object()  # a _variant() value: the row lacks the field


def _variant(**changes: Any) -> dict[str, Any]:
    row = {**_FULL_ROW, **changes}
    return {k: v for k, v in row.items() if v is not _DROP}


# Every shape a row, a page or a body may take that the narrowed decode declares otherwise.
_BODIES: list[Any] = [
    _page([_FULL_ROW, _variant(id=6, inserted_at="2025-01-01T00:00:06")], 9),
    _page([_variant(token="101", token_id=202), _variant(token=None, token_id="101")], 2),
    _page([_variant(token=_DROP, token_to=_DROP, token_id=202, token_to_id="101")], 2),
    _page([_variant(user="u1"), _variant(user=None, user_auth_id="u2"), _variant(user=_DROP)], 3),
    _page([_variant(user_to={"auth_id": "u1"}, user={"auth_id": "u2"}), _variant(user_to=[1])], 2),
    _page([_variant(loyalty_event_type=None, type="EXCHANGE"), _variant(id=None), _variant(id="x")], 3),
    _page([_variant(inserted_at=None), _variant(inserted_at=12), _variant(inserted_at="2026-01-01")], 3),
    _page([_variant(token={"id": None}), _variant(token={"name": "no id"}), _variant(token=[101])], 3),
    _page([_FULL_ROW, cast(dict[str, Any], 5), cast(dict[str, Any], None)], 3),
    _page([_FULL_ROW] * 3, 3),  # one row three times, and longer than limit=2
    {"data": {"transactions": [_FULL_ROW], "total_tx_count": True}},
    {"data": {"transactions": [_FULL_ROW], "total_tx_count": "1"}},
    {"data": {"transactions": [_FULL_ROW], "total_tx_count": 1.0}},
    {"data": {"transactions": [_FULL_ROW], "total_tx_count": -1}},
    {"data": {"transactions": {"0": _FULL_ROW}, "total_tx_count": 1}},
    {"data": {"total_tx_count": 1}},
    {"data": None},
    {"transactions": [_FULL_ROW], "total_tx_count": 1},
    [],
    None,
]
_RAW: list[bytes] = [b"", b"not json", b'{"data": {"transactions": [', b"\xff\xfe", b'"page"']


def _walks() -> list[Walk]:
    return [
        Walk(Filters(), limit=2, frozen=False),
        Walk(Filters(to_time="2025-06-01T00:00:00Z"), limit=2, frozen=True, total=9, seen={"6": None}),
        Walk(Filters(user="u1"), limit=3, frozen=False, last_time=0.0),
        Walk(Filters(types=("exchange",), token=202), limit=3, frozen=False),
        Walk(Filters(token=101, from_time="2025-01-01T00:00:06.5Z"), limit=3, frozen=True),
    ]


@pytest.mark.parametrize("content", [json.dumps(b).encode() for b in _BODIES] + _RAW)
def test_narrowed_page_decode_finds_what_the_full_decode_finds(content: bytes) -> None:
    for fast, full in zip(_walks(), _walks(), strict=True):
        problems = check_page(fast, 200, decode_page(content, fast.filters.on_rows))
        assert problems == check_page(full, 200, decode_json(content)), fast.filters
        assert fast == full  # the walk advanced the same way


def test_a_conforming_page_is_decoded_to_the_fields_the_checks_read() -> None:
    content = json.dumps(_page([_FULL_ROW], 1)).encode()
    (plain,) = decode_page(content, on_rows=False)["data"]["transactions"]
    assert plain == {"id": 7, "inserted_at": "2025-01-01T00:00:07"}
    (rich,) = decode_page(content, on_rows=True)["data"]["transactions"]
    assert set(rich) == {"id", "inserted_at", "loyalty_event_type", "token", "token_to", "user", "user_to"}
    assert rich["token"] == {"id": 101} and rich["user"] == {"auth_id": "u1"}


def test_memo_reuses_a_page_only_while_its_url_sends_the_same_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decodes: list[bytes | None] = []
    real = page_decoding.decode_page

    def counting(content: bytes | None, on_rows: bool) -> Any:
        decodes.append(content)
        return real(content, on_rows)

    monkeypatch.setattr(page_decoding, "decode_page", counting)
    memo = PageMemo(max_pages=2)
    first = json.dumps(_page([_FULL_ROW], 1)).encode()
    changed = json.dumps(_page([_variant(id=8), _FULL_ROW], 2)).encode()
    url = "/transactions?limit=2&offset=0"
    tree = memo.decode(url, first, on_rows=False)
    assert memo.decode(url, bytes(bytearray(first)), on_rows=False) is tree  # equal bytes, new object
    assert len(decodes) == 1
    assert memo.decode(url, changed, on_rows=False)["data"]["total_tx_count"] == 2
    assert memo.decode(url, first, on_rows=True) is not tree  # other fields read: another decode
    assert len(decodes) == 3
    # bounded: a third URL pushes out the one used longest ago
    memo.decode("/transactions?limit=2&offset=2", first, on_rows=False)
    memo.decode(url, changed, on_rows=False)
    assert len(decodes) == 5
    assert PageMemo(max_pages=0).decode(url, first, on_rows=False) == real(first, False)
    assert len(decodes) == 6


@pytest.mark.parametrize("content", [json.dumps(b).encode() for b in _BODIES[:10]])
def test_checks_only_read_the_decoded_page(content: bytes) -> None:
    """The memo hands one tree to every walk: a check that changed it would change the next verdict."""
    for walk in _walks():
        tree = decode_page(content, walk.filters.on_rows)
        before = json.dumps(tree, sort_keys=True)
        check_page(walk, 200, tree)
        assert json.dumps(tree, sort_keys=True) == before


# Ledger and acceptances ----------------------------------------------------------------


def test_ledger_round_trip_survives_a_torn_line(tmp_path: Path) -> None:
    writer = LedgerWriter(tmp_path, label="t")
    first = writer.attempt("exchange", "u1", 101, 10, to_token=202)
    writer.result(first, 202, "77")
    writer.attempt("credit_points", "u2", 101, 5)  # never answered
    writer.finding("EXC-02", "accepted", route="POST /transactions", evidence={"x": 1})
    writer.close()
    with next(tmp_path.glob("*.jsonl")).open("a", encoding="utf-8") as handle:
        handle.write('{"t": "attempt", "id": ')
    contents = read_ledger(tmp_path)
    assert contents.bad_lines == 1
    by_id = {a.id: a for a in contents.attempts}
    assert by_id[first].accepted and by_id[first].tx_id == "77"
    assert contents.counts() == {
        "attempts": 2,
        "accepted": 1,
        "rejected": 0,
        "rate_limited": 0,
        "unanswered": 1,
        "users": 2,
    }
    assert [f.rule for f in contents.findings] == ["EXC-02"]


def _attempt(
    amount: int, status: int | None, kind: str = "exchange", expect: str = ACCEPT, tx: str | None = None
) -> Attempt:
    return Attempt(
        id=str(id(object())),
        kind=kind,
        user="u1",
        token=101,
        amount=amount,
        expect=expect,
        status=status,
        tx_id=tx,
    )


def _xrow(ident: int, burned: str, status: str = "success") -> dict[str, Any]:
    return {
        "id": ident,
        "loyalty_event_type": "exchange",
        "status": status,
        "points_burned": burned,
        "token": {"id": "101"},
    }


def test_every_accepted_exchange_once() -> None:
    attempts = [_attempt(10, 202, tx="1"), _attempt(10, 202, tx="2"), _attempt(5, 202, tx="3")]
    rows = [_xrow(1, "10"), _xrow(2, "10.00"), _xrow(3, "5", status="failed")]
    assert check_acceptances(attempts, rows) == []


def test_lost_and_duplicated_exchanges_are_found() -> None:
    lost = check_acceptances([_attempt(10, 202), _attempt(10, 202)], [_xrow(1, "10")])
    assert lost and "2 accepted (202) exchange of 10" in lost[0]
    doubled = check_acceptances([_attempt(10, 202)], [_xrow(1, "10"), _xrow(2, "10")])
    assert doubled and "2 history rows" in doubled[0]
    # The 202's body is not documented (D10): an id found in it is not demanded of the history.
    assert check_acceptances([_attempt(10, 202, tx="99")], [_xrow(1, "10")]) == []


def test_unanswered_and_rejected_moves_are_tolerated_as_documented() -> None:
    attempts = [_attempt(10, None), _attempt(20, 400, expect=EITHER), _attempt(30, 400, expect=REJECT)]
    rows = [_xrow(1, "10"), _xrow(2, "20", status="failed")]
    assert check_acceptances(attempts, rows) == []
    # a rejected (400) exchange that still burns points is not tolerated
    assert check_acceptances([_attempt(20, 400, expect=EITHER)], [_xrow(2, "20")])


def test_rows_of_kinds_the_run_never_sent_are_ignored() -> None:
    rows = [
        _xrow(1, "10"),
        {"id": 2, "loyalty_event_type": "credit_points", "amount_received": "35", "token": {"id": 303}},
    ]
    assert check_acceptances([_attempt(10, 202)], rows) == []


# Rate limiting under load ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retry_after", "pause"),
    [
        (429, None, 1.0),  # no Retry-After: a second
        (429, "3", 3.0),
        (429, "3600", 10.0),  # a long Retry-After is waited as the cap: the run's time is bounded
        (503, "1", 1.0),
        (503, None, None),  # a 503 that says nothing is a server error, not rate limiting
        (500, "1", None),
        (200, None, None),
    ],
)
def test_rate_limiting_answers_and_the_pause_they_ask(
    status: int, retry_after: str | None, pause: float
) -> None:
    assert rate_limit_pause(status, retry_after) == pause


def test_a_rate_limited_move_is_not_accepted_and_no_row_may_come_of_it(tmp_path: Path) -> None:
    writer = LedgerWriter(tmp_path, label="t")
    limited = writer.attempt("exchange", "u1", 101, 10, to_token=202)
    writer.result(limited, 429, rate_limited=True)
    unavailable = writer.attempt("credit_points", "u1", 101, 7)
    writer.result(unavailable, 503, rate_limited=True)
    broken = writer.attempt("credit_points", "u1", 101, 8)
    writer.result(broken, 503)  # no Retry-After: the target may or may not have applied it
    writer.close()
    contents = read_ledger(tmp_path)
    by_id = {a.id: a for a in contents.attempts}
    for ident in (limited, unavailable):
        attempt = by_id[ident]
        assert attempt.rate_limited and not (attempt.accepted or attempt.rejected or attempt.unknown)
    assert by_id[broken].unknown
    assert contents.counts()["rate_limited"] == 2 and contents.findings == []
    attempts = list(by_id.values())
    assert check_acceptances(attempts, []) == []
    # the target did nothing: a row of a rate-limited move is a move nobody was told of
    applied = check_acceptances(attempts, [_xrow(1, "10")])
    assert applied and "but only 0 accepted" in applied[0]
    assert check_acceptances(attempts, [_credit_row(2, "8")]) == []


_LOCUST_SIDE = """
import json, sys, time
from pathlib import Path
from locust.env import Environment
from qiibee_conformance.loadtest.context import RunContext
from qiibee_conformance.loadtest.ledger import ACCEPT, REJECT, LedgerWriter, read_ledger
from qiibee_conformance.loadtest.plan import LoadPlan
from qiibee_conformance.loadtest.users import ExchangeBurstUser
from qiibee_conformance.redact import Redactor

class Answer:
    def __init__(self, status, headers):
        self.status_code, self.headers, self.content, self.outcome = status, headers, b"{}", None
    def success(self):
        self.outcome = "success"
    def failure(self, message):
        self.outcome = str(message)
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return False

class Client:
    answer = None
    def request(self, *args, **kwargs):
        return self.answer
    post = get = request

ExchangeBurstUser.host = "http://127.0.0.1:9"
user = ExchangeBurstUser(Environment(user_classes=[ExchangeBurstUser]))
ledger = LedgerWriter(Path(sys.argv[1]))
plan = LoadPlan(base_url="http://127.0.0.1:9", run_id="r", brand_token_id=101)
user.ctx = RunContext(plan=plan, api_key="k", ledger=ledger, think_time=0.0, history_filters=False,
                      redactor=Redactor())
user.client = client = Client()
seen = {}
for name, status, headers, call in [
    ("reverse-429", 429, {"Retry-After": "2"},
     lambda: user.move("exchange", "u1", 101, 1, to_token=202, expect=REJECT, rule="EXC-02")),
    ("read-503", 503, {"Retry-After": "1"}, lambda: user.expect("GET", "/users/u1/balances", "b", (200,))),
    ("credit-503-bare", 503, {}, lambda: user.move("credit_points", "u1", 101, 5, expect=ACCEPT)),
    ("reverse-202", 202, {}, lambda: user.move("exchange", "u1", 101, 1, to_token=202, expect=REJECT,
                                               rule="EXC-02")),
]:
    client.answer = Answer(status, headers)
    result = call()
    seen[name] = {"outcome": client.answer.outcome, "result": repr(result)}
seen["wait"] = user.wait_time()
ledger.close()
contents = read_ledger(Path(sys.argv[1]))
seen["findings"] = [f.rule for f in contents.findings]
seen["limited"] = [a.rate_limited for a in contents.attempts]
print(json.dumps(seen))
"""


def test_a_429_under_load_is_rate_limiting_never_a_finding(tmp_path: Path) -> None:
    """The Locust side: the failure's name, the ledger, no finding, and the pause."""
    result = subprocess.run(
        [sys.executable, "-c", _LOCUST_SIDE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["reverse-429"]["outcome"] == "rate limited (HTTP 429)"
    assert seen["read-503"] == {"outcome": "rate limited (HTTP 503)", "result": "(False, None)"}
    assert seen["credit-503-bare"]["outcome"] == "credit_points refused: expected HTTP 202, got 503"
    assert seen["reverse-202"]["outcome"].startswith("EXC-02: exchange that the documents call invalid")
    assert 1.5 < seen["wait"] <= 2.0  # the user waits what the 429 asked before its next task
    assert seen["findings"] == ["EXC-02"]  # only the accepted invalid exchange
    assert seen["limited"] == [True, False, False]


def test_rate_limited_requests_are_counted_per_route(tmp_path: Path) -> None:
    csv_path = tmp_path / "locust_failures.csv"
    csv_path.write_text(
        "Method,Name,Error,Occurrences,First Seen,Last Seen\n"
        "POST,/transactions,CatchResponseError('rate limited (HTTP 429)'),7,,\n"
        "POST,/transactions,CatchResponseError('rate limited (HTTP 503)'),1,,\n"
        "POST,/transactions,\"CatchResponseError('exchange refused: expected HTTP 202, got 500')\",2,,\n"
        "GET,/transactions,CatchResponseError('rate limited (HTTP 429)'),3,,\n"
    )
    ledger_dir = tmp_path / "ledger"
    # Locust's CSV is a snapshot up to a second old: it serves only when the process left no counts
    assert read_rate_limited(ledger_dir, csv_path) == {"POST /transactions": 8, "GET /transactions": 3}
    write_rate_limited(ledger_dir, {"POST /transactions": 9})
    counts = read_rate_limited(ledger_dir, csv_path)
    assert counts == {"POST /transactions": 9}
    routes = with_rate_limited(
        [_route("/transactions", {5: 100}, failures=11, method="POST"), _route("/users", {5: 10})], counts
    )
    (breach,) = [v for v in evaluate(parse_slo("[defaults]\nerror_rate = 0.1\n"), routes).breaches]
    assert breach.describe() == "POST /transactions error_rate 0.11 > 0.1 (9 of 100 requests rate limited)"


# Reconciliation against a small target ----------------------------------------------------

BRAND = 101
NOW = "2026-01-01T00:00:00"


def _credit_row(ident: int | str, amount: str, status: str = "success", when: str = NOW) -> dict[str, Any]:
    return {"id": ident, "loyalty_event_type": "credit_points", "status": status, "amount_received": amount,
            "token": {"id": BRAND}, "user": {"auth_id": "u1"}, "inserted_at": when}  # fmt: skip


def _exchange_row(ident: int | str, burned: str, status: str = "success", when: str = NOW) -> dict[str, Any]:
    return {"id": ident, "loyalty_event_type": "exchange", "status": status, "points_burned": burned,
            "amount_received": "1", "token": {"id": BRAND}, "token_to": {"id": 202},
            "user": {"auth_id": "u1"}, "inserted_at": when}  # fmt: skip


class SmallTarget:
    """One user's history and balance over HTTP; every ``limit_every``-th request is refused
    with a 429 or a 503 and Retry-After: 0, as a busy sandbox would (the transport waits)."""

    def __init__(self, rows: list[dict[str, Any]], balance: str, *, limit_every: int = 0) -> None:
        self.rows, self.balance, self.limit_every = rows, balance, limit_every
        self.total: int | None = None  # total_tx_count shown; None: len(rows)
        self.pages: dict[int, list[dict[str, Any]]] = {}  # offset -> page, overriding rows
        self.requests = self.refused = 0

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, str], Any]:
        self.requests += 1
        if self.limit_every and self.requests % self.limit_every == 0:
            self.refused += 1
            return (429 if self.refused % 2 else 503), {"Retry-After": "0"}, {"error": "busy"}
        if path == "/users/u1/balances":
            return 200, {}, {"data": [{"balance": self.balance, "token": {"id": BRAND}}]}
        if path == "/transactions":
            offset, limit = int(query["offset"][0]), int(query["limit"][0])
            page = self.pages.get(offset, self.rows[offset : offset + limit])
            total = len(self.rows) if self.total is None else self.total
            return 200, {}, {"data": {"transactions": page, "total_tx_count": total}}
        return 404, {}, {"error": "not found"}


@pytest.fixture
def small_target() -> Iterator[Callable[..., tuple[SmallTarget, ApiClient]]]:
    servers: list[ThreadingHTTPServer] = []

    def start(*args: Any, **kwargs: Any) -> tuple[SmallTarget, ApiClient]:
        target = SmallTarget(*args, **kwargs)

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                status, headers, body = target.answer(url.path, parse_qs(url.query))
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {**headers, "Content-Type": "application/json"}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return target, ApiClient(f"http://127.0.0.1:{server.server_address[1]}", "k-load-unit-1234")

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _contents(attempts: list[Attempt], baseline: Baseline | None = None) -> LedgerContents:
    return LedgerContents(attempts=attempts, baselines={} if baseline is None else {"u1": baseline})


def _reconcile(
    client: ApiClient, contents: LedgerContents, *, settle: float = 5.0, chosen: bool = False
) -> Any:
    return reconcile_run(client, contents, BRAND, settle_timeout=settle, explicit_deadline=chosen)


def test_a_sign_up_bonus_is_reconciled_by_the_balance_change(small_target: Any) -> None:
    """A new user starts with 50 points and a bonus row; the run credits 50 more."""
    target, client = small_target([_credit_row("run", "50"), _credit_row("bonus", "50")], "100")
    credit = _attempt(50, 202, kind="credit_points")
    baseline = Baseline("u1", BRAND, Fraction(50), frozenset({"bonus"}))
    result = _reconcile(client, _contents([credit], baseline))
    assert result.ok and not result.advisories, result.to_dict()
    # without the baseline the bonus row reads as a credit counted twice: what the baseline is for
    unbased = _reconcile(client, _contents([credit]))
    assert "2 history rows for credit_points of 50" in unbased.discrepancies[0].message
    # a bonus with no row of its own: the change still agrees
    target.rows = [_credit_row("run", "50")]
    assert _reconcile(client, _contents([credit], Baseline("u1", BRAND, Fraction(50)))).ok
    # and a balance that moved by more than the history says is caught
    target.balance = "130"
    broken = _reconcile(client, _contents([credit], Baseline("u1", BRAND, Fraction(50))))
    assert ["balance moved by 80" in d.message for d in broken.discrepancies] == [True]


@pytest.mark.parametrize("failed", ["failed", "reversed", "rejected"])
def test_a_failed_exchange_moves_nothing_whatever_its_status_is_called(
    small_target: Any, failed: str
) -> None:
    _, client = small_target([_exchange_row(1, "10", status=failed)], "100")
    assert _reconcile(client, _contents([_attempt(10, 202)], Baseline("u1", BRAND, Fraction(100)))).ok


def test_an_in_flight_status_past_the_deadline_is_an_advisory_unless_the_user_chose_it(
    small_target: Any,
) -> None:
    _, client = small_target([_exchange_row(1, "10", status="processing")], "90")
    contents = _contents([_attempt(10, 202)], Baseline("u1", BRAND, Fraction(100)))
    slow = _reconcile(client, contents, settle=0.3)
    assert slow.ok and [(a.rule, a.decision) for a in slow.advisories] == [("SET-01", "D78")]
    chosen = _reconcile(client, contents, settle=0.3, chosen=True)
    assert "still pending after 0.3 s" in chosen.discrepancies[0].message


def test_reconciliation_waits_out_rate_limiting(small_target: Any) -> None:
    rows = [_exchange_row(i, "1", when=f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}") for i in range(250)]
    rows.reverse()  # newest first
    target, client = small_target(rows, "750", limit_every=2)
    attempts = [_attempt(1, 202) for _ in range(250)]
    result = _reconcile(client, _contents(attempts, Baseline("u1", BRAND, Fraction(1000), frozenset())))
    assert target.refused >= 2  # both a 429 and a 503 were met
    assert result.ok and not result.advisories and not result.notes, result.to_dict()


def _tied_history(rows: int, when: str | None = None) -> list[dict[str, Any]]:
    return [
        _exchange_row(i, "1", when=when or f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}")
        for i in range(rows, 0, -1)
    ]


def test_rows_sharing_an_inserted_at_may_change_pages_an_advisory(small_target: Any) -> None:
    """Every row at one instant: the second page starts one row early (D92, warn), so row 51
    is listed twice and row 1 never; the balance cannot be judged, and is not."""
    rows = _tied_history(150, when=NOW)
    target, client = small_target(rows, "0")
    target.pages[100] = rows[99:149]
    result = _reconcile(
        client, _contents([_attempt(1, 202) for _ in range(150)], Baseline("u1", BRAND, Fraction(150)))
    )
    assert result.ok, result.to_dict()
    assert [(a.rule, a.decision) for a in result.advisories] == [("HIS-04", "D92"), ("HIS-04", "D92")]
    assert any("not judged" in n for n in result.notes)


def test_a_row_listed_twice_with_distinct_times_is_a_discrepancy(small_target: Any) -> None:
    rows = _tied_history(150)
    target, client = small_target(rows, "0")
    target.pages[100] = rows[99:150]  # every row listed, row 51 twice
    result = _reconcile(
        client, _contents([_attempt(1, 202) for _ in range(150)], Baseline("u1", BRAND, Fraction(150)))
    )
    assert ["listed more than once: ['51']" in d.message for d in result.discrepancies] == [True]
    assert not result.advisories


def test_a_row_sharing_its_time_listed_twice_on_a_frozen_walk_is_an_advisory() -> None:
    walk = Walk(Filters(to_time="2026-01-01T00:00:00Z"), limit=2, frozen=True)
    tied = "2025-01-01T00:00:04"
    assert check_page(walk, 200, _page([_row(5, "2025-01-01T00:00:05"), _row(4, tied)], 6)) == []
    problems = check_page(walk, 200, _page([_row(4, tied), _row(3, tied)], 6))
    assert [(p.rule, p.decision, p.advisory) for p in problems] == [("HIS-04", "D92", True)]
    assert not walk.done  # an advisory does not end the walk


def test_advisories_are_reported_and_fail_the_run_only_in_strict_mode() -> None:
    findings = [
        Finding("HIS-04", "a row sharing its inserted_at ...", decision="D92"),
        Finding("HIS-04", "a row sharing its inserted_at ...", decision="D92"),
    ]
    contract, advisories = split_findings(findings)
    assert contract == [] and advisories[0]["count"] == 2 and advisories[0]["decision"] == "D92"
    record = RunRecord("t", "history", 1, 1.0, 1, None, datetime.now(UTC), advisories=advisories)
    record.reconciliation = ReconciliationResult(advisories=[Advisory("SET-01", "D78", "u1", "pending")])
    assert record.exit_code() == 0 and record.verdict() == "pass"
    assert any(line.startswith("ADVISORIES (2;") for line in render(record))
    assert len(record.to_dict()["advisories"]) == 2
    record.strict = True
    assert record.exit_code() == 1 and record.failed_gates() == ["advisories"]


def test_load_amounts_receive_at_least_one_unit() -> None:
    def pair(offramp: str, onramp: str, **raw: str) -> Pair:
        brand = Token(BRAND, "b", "B", "erc20", Fraction(1), Fraction(offramp), {})
        other = Token(202, "o", "O", "erc20", Fraction(onramp), Fraction(1), {})
        return Pair(1, brand, other, "active", raw)

    assert amounts_well_inside_limits(pair("0.35", "0.1")) == (1, 50)
    assert amounts_well_inside_limits(pair("0.01", "0.05")) == (5, 50)  # 4 points receive 0.8: floor 0
    assert amounts_well_inside_limits(pair("0.001", "1")) == (1000, 1000)  # fewer would receive nothing
    assert amounts_well_inside_limits(
        pair("0.5", "0.1", min_usd_exchange_limit="1", max_usd_exchange_limit="10")
    ) == (4, 10)


# Profile and options -------------------------------------------------------------------


def test_spike_profile_ramps_spikes_and_cools_down() -> None:
    assert spike_stage(0, 60, 50, 5) == (10, 5)
    assert spike_stage(30, 60, 50, 5) == (50, 50.0)
    assert spike_stage(50, 60, 50, 5) == (10, 50.0)
    assert spike_stage(60, 60, 50, 5) is None


def test_timespans_and_scenario_selection() -> None:
    assert [parse_timespan(t) for t in ("90", "20s", "1m", "1h30m")] == [90, 20, 60, 5400]
    with pytest.raises(ValueError):
        parse_timespan("soon")
    assert selected_scenario(["-f", "x", "--scenario", "history"], {}) == "history"
    assert (
        selected_scenario(["--scenario=exchange-burst"], {"QIIBEE_SCENARIO": "history"}) == "exchange-burst"
    )
    assert selected_scenario([], {"QIIBEE_SCENARIO": "history"}) == "history"
    with pytest.raises(ValueError):
        selected_scenario(["--scenario", "bogus"], {})


@pytest.mark.parametrize(
    "argv",
    [
        ["load", "--run-time", "soon"],
        ["load", "--users", "0"],
        ["load", "--settle-timeout", "0"],
        ["load", "--target", "https://api.example.com", "--api-key", "k" * 12],
        ["load", "--target", "ftp://localhost"],
        ["load", "--slo", "/nonexistent/slo.toml"],
    ],
)
def test_unusable_runs_exit_2_with_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error:" in err[0]
    assert "k" * 12 not in err[0]


def test_parent_side_never_imports_locust() -> None:
    code = (
        "import sys\n"
        "import qiibee_conformance.cli, qiibee_conformance.loadtest.cli, qiibee_conformance.loadtest.runner\n"
        "qiibee_conformance.cli.build_parser()\n"
        "assert 'locust' not in sys.modules and 'gevent' not in sys.modules, 'locust imported'\n"
    )
    _python_passes(code)


def test_locust_users_read_the_socket_in_large_blocks() -> None:
    """The block size goes through geventhttpclient's pool arguments: fail loudly if they move."""
    code = (
        "from locust.env import Environment\n"
        "from qiibee_conformance.loadtest.users import HistoryUser\n"
        "HistoryUser.host = 'http://127.0.0.1:9'\n"
        "user = HistoryUser(Environment(user_classes=[HistoryUser]))\n"
        "client = user.client.client.clientpool.get_client('http://127.0.0.1:9/')\n"
        "assert client.block_size == HistoryUser.receive_block_size == 65536, client.block_size\n"
    )
    _python_passes(code)


def _python_passes(code: str) -> None:
    """Run ``code`` in a fresh interpreter: Locust's import patches gevent into this one."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
