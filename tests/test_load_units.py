"""Unit tests of the load run's pure parts: SLO gates, page checks, ledger, profile, options."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from qiibee_conformance.cli import main
from qiibee_conformance.errors import RunError
from qiibee_conformance.loadtest.common import parse_timespan, selected_scenario
from qiibee_conformance.loadtest.history_checks import Filters, Walk, check_page
from qiibee_conformance.loadtest.ledger import ACCEPT, EITHER, REJECT, Attempt, LedgerWriter, read_ledger
from qiibee_conformance.loadtest.profile import spike_stage
from qiibee_conformance.loadtest.reconciliation import check_acceptances
from qiibee_conformance.loadtest.slo import (
    RouteStats,
    evaluate,
    load_slo,
    parse_locust_stats,
    parse_slo,
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
    assert contents.counts() == {"attempts": 2, "accepted": 1, "rejected": 0, "unanswered": 1, "users": 2}
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
    missing_id = check_acceptances([_attempt(10, 202, tx="99")], [_xrow(1, "10")])
    assert missing_id and "99" in missing_id[0]


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
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
