"""HIS: transaction history order, paging, counts and filters.

The filter checks read the history of a user of the run's own, made of known
transactions (4 credits, 2 debits, 1 exchange), so it does not change while
they walk it. List filters go in whichever tolerated encoding the target applies
(``types[]=a&types[]=b`` or ``types=a&types=b``; see ``CheckContext.list_filter``).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from qiibee_conformance import reconcile
from qiibee_conformance.checks.base import check, data_object, describe, ensure, expect_status
from qiibee_conformance.checks.context import CheckContext, format_time, parse_time, unknown_value_verdict
from qiibee_conformance.checks.exchange_run import minimal_amount
from qiibee_conformance.client import Response
from qiibee_conformance.discovery import Pair
from qiibee_conformance.findings import Nonconformity, Untestable

CREDITS = (11, 12, 13, 14)
DEBITS = (3, 4)
PAGE = 3
MICRO_DIGITS = 6
FRACTION_RE = re.compile(r"T\d\d:\d\d:\d\d[.,](\d+)")


@dataclass
class History:
    user: str
    pair: Pair
    rows: list[dict[str, Any]]  # the page the target lists with only the user filter (limit 100)
    response: Response
    counts: dict[str, int]  # the rows the run made, per type

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def ids(self) -> list[str]:
        return [str(reconcile.row_id(r)) for r in self.rows]

    def strangers(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if reconcile.row_user_auth_id(r) not in (self.user, None)]

    def trusted(self) -> None:
        """The other filters are read on top of the user filter: skip them if it is broken."""
        if self.strangers() or len(self.rows) > self.total:
            raise Untestable("the user_auth_id filter lets other users' rows through (see HIS-05)")


def _accepted(response: Response, what: str) -> None:
    """A step that only prepares the history: a refusal makes HIS untestable, not failed."""
    if response.status != 202:
        raise Untestable(f"cannot prepare the history user: {what} gave {describe(response)}")


def _build(ctx: CheckContext) -> History:
    pair = ctx.simple_pair()
    amount = minimal_amount(pair)
    user = ctx.new_user("his")
    # Exchange early, debits last: the rows a check needs are never only the newest one.
    # credit_points may be applied after its 202: the first credit must show in the balance
    # before the exchange; it alone covers the debits (they total less than CREDITS[0]).
    ctx.fund(user, CREDITS[0] + amount)
    _accepted(ctx.exchange(user, pair, amount), "exchange")
    for credit in CREDITS[1:]:
        _accepted(ctx.points("credit_points", user, credit), "credit_points")
    for debit in DEBITS:
        _accepted(ctx.points("debit_points", user, debit), "debit_points")
    settled = ctx.wait_settled([user], min_moves={user: 1})
    if not settled.settled:
        raise Untestable("the history user's transactions did not settle (see SET-01)")
    counts = {"credit_points": len(CREDITS), "debit_points": len(DEBITS), "exchange": 1}
    total = sum(counts.values())
    found: list[tuple[Response, list[dict[str, Any]]]] = []

    def listed() -> bool:
        response, rows, _ = page(ctx, {"user_auth_id": user, "limit": 100})
        found[:] = [(response, rows)]
        return response.status != 200 or len(rows) >= total

    ctx.poll(listed)  # queued credits/debits may be listed a little after the exchange settles
    response, rows = found[0]
    expect_status(response, (200,), "GET /transactions?user_auth_id=...")
    return History(user=user, pair=pair, rows=rows, response=response, counts=counts)


def history(ctx: CheckContext) -> History:
    return ctx.memo("history-user", lambda: _build(ctx))


def page(
    ctx: CheckContext, params: dict[str, Any] | list[tuple[str, Any]]
) -> tuple[Response, list[dict[str, Any]], Any]:
    """One page: (response, rows, total_tx_count); a malformed 200 is a Nonconformity."""
    return parse_page(ctx.history(params))


def parse_page(response: Response) -> tuple[Response, list[dict[str, Any]], Any]:
    if response.status != 200:
        return response, [], None
    data = data_object(response, "GET /transactions")
    rows = data.get("transactions")
    ensure(
        isinstance(rows, list), f"GET /transactions has no transactions list: {describe(response)}", response
    )
    assert isinstance(rows, list)
    return response, [r for r in rows if isinstance(r, dict)], data.get("total_tx_count")


def _second(row: dict[str, Any]) -> datetime | None:
    parsed = parse_time(row.get("inserted_at"))
    return parsed.replace(microsecond=0) if parsed else None


def _check_order(rows: list[dict[str, Any]], response: Response, what: str) -> None:
    seconds = [_second(r) for r in rows]
    for i in range(len(seconds) - 1):
        a, b = seconds[i], seconds[i + 1]
        if a is not None and b is not None and a < b:
            raise Nonconformity(
                f"{what} is not newest first: row {reconcile.row_id(rows[i])} "
                f"at {rows[i].get('inserted_at')} "
                f"comes before row {reconcile.row_id(rows[i + 1])} at {rows[i + 1].get('inserted_at')}",
                [response],
            )


@check("HIS-01")
def newest_first(ctx: CheckContext) -> None:
    his = history(ctx)
    newest = max((s for s in map(_second, his.rows) if s is not None), default=None)
    if newest is None:
        raise Untestable("history rows carry no parseable inserted_at")
    response, rows, _ = page(ctx, {"user_auth_id": his.user})
    _check_order(rows, response, "the user's history")
    response, rows, _ = page(ctx, {})
    expect_status(response, (200,), "GET /transactions")
    _check_order(rows, response, "the history")
    first = _second(rows[0]) if rows else None
    if first is not None and first < newest:
        raise Nonconformity(
            f"the first row of the history is from {rows[0].get('inserted_at')}, "
            "older than transactions made "
            f"at {newest.isoformat()}: the history is not newest first",
            [response],
        )
    if len({s for s in map(_second, rows) if s is not None}) < 2:
        # Everything in one second proves nothing: add a transaction in a later second and look again.
        time.sleep(1.05)
        expect_status(ctx.points("credit_points", ctx.new_user("his"), 1), (202,), "credit_points")
        response, rows, _ = page(ctx, {})
        _check_order(rows, response, "the history")


@check("HIS-02")
def limit_bounds(ctx: CheckContext) -> None:
    ctx.ensure_history_total(101)
    response, rows, _ = page(ctx, {"limit": 150})
    expect_status(response, (200, 400), "GET /transactions?limit=150")
    ensure(len(rows) <= 100, f"GET /transactions?limit=150 returned {len(rows)} rows (maximum 100)", response)
    for params in ({"limit": 0}, {"limit": -1}, {"offset": -1}):
        expect_status(ctx.history(params), (400,), f"GET /transactions with {params}")
    _default_limit(ctx, 101)


def _default_limit(ctx: CheckContext, minimum: int) -> None:
    """Without limit a page holds min(100, total_tx_count) rows. The fill-up credits may be
    listed a little after their 202, so wait until the same response counts ``minimum``."""
    found: list[tuple[Response, list[dict[str, Any]], Any]] = []

    def filled() -> bool:
        found[:] = [page(ctx, {})]
        response, _, reported = found[0]
        return response.status != 200 or (isinstance(reported, int) and reported >= minimum)

    # A count that never gets there is HIS-03's finding: no need to wait the whole deadline.
    ctx.poll(filled, timeout=min(10.0, ctx.settings.settle_timeout))
    response, rows, reported = found[0]
    expect_status(response, (200,), "GET /transactions")
    if not isinstance(reported, int) or reported < minimum:
        raise Untestable(
            f"the history does not count the {minimum} transactions it was filled to "
            f"(total_tx_count {reported!r}; see HIS-03): the default limit cannot be seen"
        )
    ensure(
        len(rows) == min(100, reported),
        f"GET /transactions without limit, with total_tx_count {reported}, returned "
        f"{len(rows)} rows (default limit 100)",
        response,
    )


@check("HIS-03")
def total_count(ctx: CheckContext) -> None:
    his = history(ctx)
    his.trusted()
    response, rows, total = page(ctx, {"user_auth_id": his.user, "limit": PAGE})
    expect_status(response, (200,), "GET /transactions?user_auth_id=...")
    ensure(
        total == his.total, f"total_tx_count is {total!r} for a user with {his.total} transactions", response
    )
    for offset in (his.total, his.total + 5):
        past, rows, again = page(ctx, {"user_auth_id": his.user, "limit": PAGE, "offset": offset})
        expect_status(past, (200,), f"GET /transactions past the end (offset {offset})")
        ensure(
            rows == [] and again == his.total,
            f"past the end (offset {offset} of {his.total}) got {len(rows)} rows "
            f"and total_tx_count {again!r}",
            past,
        )


@check("HIS-04")
def walk_pages(ctx: CheckContext) -> None:
    his = history(ctx)
    his.trusted()
    seen: list[str] = []
    evidence: list[Response] = []
    for offset in range(0, his.total + PAGE, PAGE):
        response, rows, _ = page(ctx, {"user_auth_id": his.user, "limit": PAGE, "offset": offset})
        evidence.append(response)
        expect_status(response, (200,), f"GET /transactions?limit={PAGE}&offset={offset}")
        ensure(len(rows) <= PAGE, f"limit={PAGE} returned {len(rows)} rows", response)
        seen += [str(reconcile.row_id(r)) for r in rows]
    twice = sorted({i for i in seen if seen.count(i) > 1})
    ensure(
        not twice,
        f"walking the user's history {PAGE} at a time listed rows {twice} more than once",
        *evidence,
    )
    ensure(
        len(seen) == his.total,
        f"walking the history of a user with {his.total} transactions {PAGE} at a time yielded {len(seen)} "
        f"rows: {seen}",
        *evidence,
    )
    ensure(
        set(his.ids()) <= set(seen),
        f"walking the pages missed rows {sorted(set(his.ids()) - set(seen))} that the single page lists",
        *evidence,
        his.response,
    )


@check("HIS-05")
def user_filter(ctx: CheckContext) -> None:
    his = history(ctx)
    strangers = his.strangers()
    ensure(
        not strangers,
        f"user_auth_id={his.user} let through rows of user(s) "
        f"{sorted({str(reconcile.row_user_auth_id(r)) for r in strangers})[:5]}",
        his.response,
    )
    # No bound on the count: a target may record rows of its own for the user (a reversal,
    # the partner token's received credit); the stranger check above proves the filter.
    # A new user of the run's own, with nothing done to it: "If there are no transactions, an
    # empty transactions list will be returned" (200). Whatever a brand may credit on signup,
    # the count must match the rows.
    idle = ctx.new_user("his")
    response, rows, total = page(ctx, {"user_auth_id": idle})
    expect_status(response, (200,), "GET /transactions for a new user (no transactions of the run's)")
    ensure(
        total == len(rows),
        f"a new user's history lists {len(rows)} rows with total_tx_count {total!r}",
        response,
    )
    unknown = ctx.history({"user_auth_id": f"qc-unknown-{ctx.settings.run_id}"})
    expect_status(unknown, (200, 404), "GET /transactions for an unknown user_auth_id")
    if unknown.status == 200:
        data = unknown.data()
        listed = data.get("transactions") if isinstance(data, dict) else None
        ensure(listed == [], f"an unknown user_auth_id listed transactions: {describe(unknown)}", unknown)


def _check_types(
    his: History, types: list[str], response: Response, rows: list[dict[str, Any]], reported: Any
) -> None:
    """The filtered page must hold exactly the user's rows of those types (one page: limit 100)."""
    wrong = sorted({reconcile.row_type(r) for r in rows} - set(types))
    ensure(not wrong, f"types={types} let through rows of type(s) {wrong}", response)
    got = {str(reconcile.row_id(r)) for r in rows}
    want = {str(reconcile.row_id(r)) for r in his.rows if reconcile.row_type(r) in types}
    ensure(
        got == want,
        f"types={types} returned rows {sorted(got)}; the user's unfiltered history lists "
        f"{sorted(want)} of those types (missing {sorted(want - got)}, extra {sorted(got - want)})",
        response,
        his.response,
    )
    ensure(
        reported == len(rows),
        f"types={types} returned all {len(rows)} matching rows on one page but total_tx_count "
        f"is {reported!r}",
        response,
    )


@check("HIS-06")
def types_filter(ctx: CheckContext) -> None:
    his = history(ctx)
    his.trusted()
    for types in (["credit_points"], ["exchange"], ["credit_points", "debit_points"]):
        base: list[tuple[str, Any]] = [("user_auth_id", his.user), ("limit", 100)]
        wanted = set(types)

        def applied(response: Response, wanted: set[str] = wanted) -> bool:
            data = response.data()
            found = data.get("transactions") if isinstance(data, dict) else None
            return isinstance(found, list) and all(
                isinstance(r, dict) and reconcile.row_type(r) in wanted for r in found
            )

        def send(extra: list[tuple[str, str]], base: list[tuple[str, Any]] = base) -> Response:
            return ctx.history([*base, *extra])

        response, rows, reported = parse_page(ctx.list_filter(send, "types", types, applied))
        expect_status(response, (200,), f"GET /transactions with types {types}")
        _check_types(his, types, response, rows, reported)
    _unknown_type(ctx, his)


def _unknown_type(ctx: CheckContext, his: History) -> None:
    """An unknown type: 400, or 200 with an empty list, in the encoding the target reads (in
    each encoding while none is proven: the one it ignores lists everything)."""

    def send(extra: list[tuple[str, str]]) -> Response:
        return ctx.history([("user_auth_id", his.user), *extra])

    def lists_no_row(r: Response) -> bool:
        data = r.data()
        return isinstance(data, dict) and data.get("transactions") == []

    answers = ctx.list_unknown_value(send, "types", "qc_bogus_type")
    verdict = unknown_value_verdict(answers, lists_no_row)
    shown = "; ".join(f"types as {encoding}: {describe(r)}" for encoding, r in answers)
    if verdict == "nonconformity":
        raise Nonconformity(
            f"an unknown type must give HTTP 400 or 200 with an empty list; got {shown}",
            [r for _, r in answers],
        )
    if verdict == "untestable":
        raise Untestable(
            f"types is applied in neither list encoding here ({shown}), so an unknown type cannot be "
            "told from an ignored parameter"
        )


@check("HIS-07")
def token_filter(ctx: CheckContext) -> None:
    his = history(ctx)
    his.trusted()
    brand, partner = his.pair.from_token.id, his.pair.to_token.id
    for token in (brand, partner):
        response, rows, _ = page(ctx, {"user_auth_id": his.user, "token_id": token, "limit": 100})
        expect_status(response, (200,), f"GET /transactions?token_id={token}")
        stray = [
            reconcile.row_id(r)
            for r in rows
            if token not in (reconcile.row_token_id(r, "token"), reconcile.row_token_id(r, "token_to"))
        ]
        ensure(
            not stray,
            f"token_id={token} let through rows {stray[:5]} that do not involve the token",
            response,
        )
        if token == brand:
            ensure(
                len(rows) == len(his.rows),
                f"token_id={token} returned {len(rows)} of the user's {len(his.rows)} rows whose token it is",
                response,
                his.response,
            )


def _bound(row: dict[str, Any]) -> str:
    parsed = parse_time(row.get("inserted_at"))
    assert parsed is not None
    return format_time(parsed)


@check("HIS-08")
def time_filters(ctx: CheckContext) -> None:
    his = history(ctx)
    his.trusted()
    stamped = [(r, parse_time(r.get("inserted_at"))) for r in his.rows]
    if any(t is None for _, t in stamped) or not stamped:
        raise Untestable("history rows carry no parseable inserted_at")
    pivot, when = stamped[len(stamped) // 2]
    assert when is not None
    bound = _bound(pivot)
    ids_at_or_after = {reconcile.row_id(r) for r, t in stamped if t is not None and t >= when}
    ids_before = {reconcile.row_id(r) for r, t in stamped if t is not None and t < when}
    response, rows, _ = page(ctx, {"user_auth_id": his.user, "from_time": bound, "limit": 100})
    expect_status(response, (200,), f"GET /transactions?from_time={bound}")
    got = {reconcile.row_id(r) for r in rows}
    ensure(
        ids_at_or_after <= got,
        f"from_time={bound} (a row's own inserted_at) left out rows "
        f"{sorted(map(str, ids_at_or_after - got))}: the bound is inclusive",
        response,
    )
    ensure(
        not got & ids_before,
        f"from_time={bound} let through earlier rows {sorted(map(str, got & ids_before))}",
        response,
    )
    response, rows, _ = page(ctx, {"user_auth_id": his.user, "to_time": bound, "limit": 100})
    expect_status(response, (200,), f"GET /transactions?to_time={bound}")
    got = {reconcile.row_id(r) for r in rows}
    ids_after = {reconcile.row_id(r) for r, t in stamped if t is not None and t > when}
    ensure(
        ids_before <= got,
        f"to_time={bound} left out earlier rows {sorted(map(str, ids_before - got))}",
        response,
    )
    ensure(
        not got & ids_after,
        f"to_time={bound} let through later rows {sorted(map(str, got & ids_after))}",
        response,
    )
    if fraction_digits(pivot.get("inserted_at")) == MICRO_DIGITS:
        # Only a time shown to the microsecond is sent back exactly: a truncated one
        # (seconds, milliseconds, or 7-9 digits cut by parsing) is earlier than the row.
        ensure(
            reconcile.row_id(pivot) in got,
            f"to_time={bound} (the row's own inserted_at) left the row out: the bound is inclusive",
            response,
        )
    _outside_window(ctx, his, stamped)


def fraction_digits(value: object) -> int:
    """How many fractional-second digits a shown time has (0 when it has none)."""
    found = FRACTION_RE.search(str(value))
    return len(found.group(1)) if found else 0


def _outside_window(
    ctx: CheckContext, his: History, stamped: list[tuple[dict[str, Any], datetime | None]]
) -> None:
    """The user's rows often share one second, so the bounds above may exclude nothing:
    a window that ends before every row, or starts in the far future, must list none."""
    earliest = min(t for _, t in stamped if t is not None)
    before = format_time(earliest.replace(microsecond=0) - timedelta(seconds=1))
    response, rows, _ = page(ctx, {"user_auth_id": his.user, "to_time": before, "limit": 100})
    # 400 is tolerated on both probes: a window may end before its default start (the
    # brand's creation, possibly moments before) or start after its default end (now).
    expect_status(response, (200, 400), f"GET /transactions?to_time={before}")
    ensure(
        not rows,
        f"to_time={before}, a second before the user's first transaction, let through rows "
        f"{sorted(str(reconcile.row_id(r)) for r in rows)[:5]}",
        response,
        his.response,
    )
    future = "2999-01-01T00:00:00Z"
    response, rows, _ = page(ctx, {"user_auth_id": his.user, "from_time": future, "limit": 100})
    expect_status(response, (200, 400), f"GET /transactions?from_time={future}")
    ensure(
        not rows,
        f"from_time={future} let through rows {sorted(str(reconcile.row_id(r)) for r in rows)[:5]}",
        response,
    )
