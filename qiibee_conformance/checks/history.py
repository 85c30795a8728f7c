"""HIS: transaction history order, paging, counts and filters.

The filter checks read the history of a user of the run's own, made of known
transactions (4 credits, 2 debits, 1 exchange), and wait until it stops changing
before they walk it. The target may have recorded rows of its own for that user
(a sign-up bonus, a reversal, a received-points credit: D27, D157): the user's
whole history, as one ``limit=100`` page lists it, is what the filters are judged
against, so those rows are tolerated, never counted against the target.

List filters go in whichever tolerated encoding the target applies
(``types[]=a&types[]=b``, ``types=a&types=b`` or ``types=a,b``; see
``CheckContext.list_filter``). Rows that share one ``inserted_at`` may come in any
order (D88), so where paging mislays one of them it is an advisory (D92), never a
failure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from qiibee_conformance import reconcile, run_control
from qiibee_conformance.checks import prerequisites
from qiibee_conformance.checks.base import (
    advise,
    check,
    data_object,
    describe,
    ensure,
    expect_4xx,
    expect_status,
)
from qiibee_conformance.checks.context import CheckContext
from qiibee_conformance.checks.exchange_run import minimal_amount
from qiibee_conformance.checks.list_filters import unknown_value_verdict
from qiibee_conformance.checks.outcome import map_in_threads
from qiibee_conformance.client import Response
from qiibee_conformance.discovery import Pair
from qiibee_conformance.findings import Nonconformity, Untestable
from qiibee_conformance.times import MICRO_DIGITS, format_time, fraction_digits, parse_time

CREDITS = (11, 12, 13, 14)
DEBITS = (3, 4)
MADE = {reconcile.CREDIT: len(CREDITS), reconcile.DEBIT: len(DEBITS)}
MADE_ROWS = len(CREDITS) + len(DEBITS) + 1  # and the exchange, whatever its type is called (D73)
PAGE = 3
FULL_PAGE = 100
ONE_MICROSECOND = timedelta(microseconds=1)
# HIS-09: a types-filtered walk, limit 10, over 36 credits with a debit after every 4th.
WALK_LIMIT = 10
WALK_CREDITS = 35
WALK_DEBIT_EVERY = 4
WALK_FUNDS = 20

Rows = list[dict[str, Any]]


@dataclass
class History:
    user: str
    pair: Pair
    rows: Rows  # the user's whole history, as the target lists it with only the user filter (limit 100)
    response: Response
    complete: bool = True  # every transaction the run made is listed, and the listing stopped changing
    reads: list[Response] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.rows)

    def ids(self) -> list[str]:
        return [str(reconcile.row_id(r)) for r in self.rows]

    def strangers(self) -> Rows:
        return strangers(self.rows, self.user)

    def trusted(self) -> None:
        """The other filters are read on top of the user filter and of a complete, unchanging
        history: without them the rules cannot be judged here (HIS-05 and HIS-03 judge those)."""
        if self.strangers():
            raise Untestable("the user_auth_id filter lets other users' rows through (see HIS-05)")
        if not self.complete:
            raise Untestable(
                "the history user's transactions were not all listed, or the listing kept changing, "
                "within the settle deadline (see HIS-03)"
            )
        if self.total >= FULL_PAGE:
            raise Untestable(f"the history user has {self.total} rows: more than one page of {FULL_PAGE}")


def strangers(rows: Iterable[dict[str, Any]], user: str) -> Rows:
    """Rows that name another user than ``user`` (a row naming none is read as the user's)."""
    return [r for r in rows if reconcile.row_user_auth_id(r) not in (user, None)]


def _accepted(response: Response, what: str) -> None:
    """A step that only prepares the history: a refusal makes HIS untestable, not failed
    (refused credits and debits are BAL's findings, refused exchanges EXC's)."""
    if response.status != 202:
        raise Untestable(f"cannot prepare a history user: {what} gave {describe(response)}")


def _holds(rows: Rows, user: str, made: dict[str, int], minimum: int) -> bool:
    """Whether the user's listed rows hold at least the transactions the run made."""
    own = [r for r in rows if reconcile.row_user_auth_id(r) in (user, None)]
    kinds = Counter(reconcile.row_type(r) for r in own)
    return len(own) >= minimum and all(kinds[kind] >= n for kind, n in made.items())


@dataclass
class Listing:
    """The user's history as one page lists it, once it holds the run's rows and stopped changing."""

    response: Response
    rows: Rows
    complete: bool
    reads: list[Response]


def listing(ctx: CheckContext, user: str, made: dict[str, int], minimum: int) -> Listing:
    """Poll ``GET /transactions?user_auth_id=<user>&limit=100`` until it lists the run's rows and
    two reads in a row agree: queued credits may be listed a little after their 202, a reversal
    a little after its exchange settles."""
    reads: list[tuple[Response, Rows]] = []

    def settled() -> bool:
        response, rows, _ = page(ctx, {"user_auth_id": user, "limit": FULL_PAGE})
        reads.append((response, rows))
        if response.status != 200:
            return True
        if not _holds(rows, user, made, minimum) or len(reads) < 2:
            return False
        return _row_ids(reads[-2][1]) == _row_ids(rows)

    done = ctx.poll(settled)
    response, rows = reads[-1]
    expect_status(response, (200,), "GET /transactions?user_auth_id=...&limit=100")
    complete = done and _holds(rows, user, made, minimum)
    return Listing(response, rows, complete, [r for r, _ in reads[-2:]])


def _row_ids(rows: Rows) -> list[str]:
    return [str(reconcile.row_id(r)) for r in rows]


def _build(ctx: CheckContext) -> History:
    pair = ctx.api.simple_pair()
    amount = minimal_amount(pair)
    user = ctx.api.new_user("his")
    # Exchange early, debits last: the rows a check needs are never only the newest one.
    # credit_points may be applied after its 202: the first credit must show in the balance
    # before the exchange; it alone covers the debits (they total less than CREDITS[0]).
    ctx.api.fund(user, CREDITS[0] + amount)
    _accepted(ctx.api.exchange(user, pair, amount), "exchange")
    for credit in CREDITS[1:]:
        _accepted(ctx.api.points("credit_points", user, credit), "credit_points")
    for debit in DEBITS:
        _accepted(ctx.api.points("debit_points", user, debit), "debit_points")
    settled = ctx.api.wait_settled([user], min_moves={user: 1})
    if not settled.settled:
        raise Untestable("the history user's transactions did not settle (see SET-01)")
    found = listing(ctx, user, MADE, MADE_ROWS)
    return History(user, pair, found.rows, found.response, found.complete, found.reads)


def history(ctx: CheckContext) -> History:
    return ctx.memo("history-user", lambda: _build(ctx))


def page(ctx: CheckContext, params: dict[str, Any] | list[tuple[str, Any]]) -> tuple[Response, Rows, Any]:
    """One page: (response, rows, total_tx_count); a malformed 200 is a Nonconformity."""
    return parse_page(ctx.api.history(params))


def parse_page(response: Response) -> tuple[Response, Rows, Any]:
    if response.status != 200:
        return response, [], None
    data = data_object(response, "GET /transactions")
    rows = data.get("transactions")
    ensure(
        isinstance(rows, list), f"GET /transactions has no transactions list: {describe(response)}", response
    )
    assert isinstance(rows, list)
    total = data.get("total_tx_count")
    if isinstance(total, str) and total.isdigit():
        total = int(total)
    return response, [r for r in rows if isinstance(r, dict)], total


def _row_types(response: Response) -> list[str] | None:
    """The types of the rows a 200 lists (None when it lists none readable)."""
    data = response.data()
    found = data.get("transactions") if isinstance(data, dict) else None
    if not isinstance(found, list):
        return None
    return [reconcile.row_type(r) if isinstance(r, dict) else "" for r in found]


# Ties and walks -------------------------------------------------------------------------------
def _shown(row: dict[str, Any]) -> datetime | None:
    return parse_time(row.get("inserted_at"))


def tied_ids(rows: Rows) -> set[str]:
    """Ids of rows whose shown ``inserted_at`` another row shares, or that show none: their
    order among themselves is free (D88), so paging may mislay them (D92)."""
    times = Counter(_shown(r) for r in rows)
    return {str(reconcile.row_id(r)) for r in rows if _shown(r) is None or times[_shown(r)] > 1}


def judge_walk(seen: list[str], rows: Rows, what: str, evidence: list[Response]) -> None:
    """A walk by limit/offset must yield every one of ``rows`` exactly once and nothing else
    (D91, fail); a row mislaid among rows sharing its inserted_at is an advisory (D92)."""
    expected = [str(reconcile.row_id(r)) for r in rows]
    counts = Counter(seen)
    extra = sorted(set(counts) - set(expected))
    ensure(not extra, f"{what} listed rows {extra[:10]} that the single page does not list", *evidence)
    twice = sorted(i for i, n in counts.items() if n > 1)
    missed = sorted(set(expected) - set(counts))
    tied = tied_ids(rows)
    firm = [i for i in [*twice, *missed] if i not in tied]
    detail = f"listed {twice[:10]} more than once and missed {missed[:10]}"
    ensure(
        not firm,
        f"{what} {detail}; rows {firm[:10]} have an inserted_at no other row shares",
        *evidence,
        expected="every row exactly once",
    )
    advise(
        not twice and not missed,
        f"{what} {detail}: rows sharing one inserted_at, whose order SQL leaves free unless the "
        "server breaks ties",
        *evidence,
        decision="D92",
        expected="every row exactly once",
    )


def expect_page_size(response: Response, rows: Rows, limit: int, offset: int, total: int, what: str) -> None:
    """limit/offset as in SQL: every page but the last holds ``limit`` rows (D91)."""
    size = min(limit, max(0, total - offset))
    ensure(
        len(rows) == size,
        f"{what}: limit={limit}&offset={offset} over {total} matching rows returned {len(rows)} rows, "
        f"expected {size} (limit and offset work as in SQL)",
        response,
        expected=f"{size} rows",
        actual=f"{len(rows)} rows",
    )


# HIS-01 -----------------------------------------------------------------------------------------
def _second(row: dict[str, Any]) -> datetime | None:
    parsed = _shown(row)
    return parsed.replace(microsecond=0) if parsed else None


def _check_order(rows: Rows, response: Response, what: str) -> None:
    """Newest first; rows within one second in any order (D88: ties, and displays truncated)."""
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


def _newest_on_top(ctx: CheckContext, newest: datetime) -> None:
    """The whole history's first page starts no earlier than the newest row known."""
    response, rows, _ = page(ctx, {})
    expect_status(response, (200,), "GET /transactions")
    _check_order(rows, response, "the history")
    first = _second(rows[0]) if rows else None
    if first is not None and first < newest:
        raise Nonconformity(
            f"the first row of the history is from {rows[0].get('inserted_at')}, "
            f"older than transactions made at {newest.isoformat()}: the history is not newest first",
            [response],
        )


def _a_second_apart(ctx: CheckContext) -> datetime | None:
    """Two credits a second apart, for a user of their own: listed newer first. The newest
    second shown, when the two rows do show two seconds."""
    user = ctx.api.new_user("his")
    _accepted(ctx.api.points("credit_points", user, 1), "credit_points")
    run_control.wait(1.05)
    _accepted(ctx.api.points("credit_points", user, 2), "credit_points")
    found = listing(ctx, user, {reconcile.CREDIT: 2}, 2)
    if not found.complete:
        return None  # HIS-03's and HIS-05's to judge
    _check_order(found.rows, found.response, "the history of a user credited twice, a second apart")
    seconds = {s for s in map(_second, found.rows) if s is not None}
    return max(seconds) if len(seconds) > 1 else None


@check("HIS-01")
def newest_first(ctx: CheckContext) -> None:
    his = history(ctx)
    seconds = {s for s in map(_second, his.rows) if s is not None}
    if not seconds:
        raise Untestable("history rows carry no parseable inserted_at")
    response, rows, _ = page(ctx, {"user_auth_id": his.user})
    _check_order(rows, response, "the user's history")
    _newest_on_top(ctx, max(seconds))
    if len(seconds) < 2:
        # Rows within one second may come in any order, so they prove nothing about it:
        # look again with rows a second apart.
        newest = _a_second_apart(ctx)
        if newest is not None:
            _newest_on_top(ctx, newest)


# HIS-02 -----------------------------------------------------------------------------------------
# Bad paging data: "Bad data: HTTP 404 with error message"; any 4xx is tolerated (D39).
BAD_PAGING: tuple[dict[str, Any], ...] = (
    {"limit": -1},
    {"limit": "abc"},
    {"limit": "2.5"},
    {"offset": -1},
    {"offset": "abc"},
    {"from_time": "not-a-time"},
    {"to_time": "not-a-time"},
)


@check("HIS-02")
def limit_bounds(ctx: CheckContext) -> None:
    ctx.api.ensure_history_total(FULL_PAGE + 1)
    response, rows, _ = page(ctx, {"limit": 150})
    if not 400 <= response.status < 500:  # a 4xx, or at most 100 rows (D38)
        expect_status(response, (200,), "GET /transactions?limit=150 (a 4xx, or at most 100 rows)")
    ensure(
        len(rows) <= FULL_PAGE,
        f"GET /transactions?limit=150 returned {len(rows)} rows (maximum 100)",
        response,
    )
    for params in BAD_PAGING:
        expect_4xx(ctx.api.history(params), f"GET /transactions with {params} (bad data)")
    zero, rows, _ = page(ctx, {"limit": 0})
    if not 400 <= zero.status < 500:  # SQL's LIMIT 0: an empty page, or a 4xx (D40)
        expect_status(zero, (200,), "GET /transactions?limit=0 (a 4xx, or an empty page)")
        ensure(not rows, f"GET /transactions?limit=0 returned {len(rows)} rows", zero)
    _default_limit(ctx, FULL_PAGE + 1)


def _default_limit(ctx: CheckContext, minimum: int) -> None:
    """Without limit a page holds min(100, total_tx_count) rows (D153). The fill-up credits may
    be listed a little after their 202, so wait until the same response counts ``minimum``."""
    found: list[tuple[Response, Rows, Any]] = []

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
        len(rows) == min(FULL_PAGE, reported),
        f"GET /transactions without limit, with total_tx_count {reported}, returned "
        f"{len(rows)} rows (default limit 100)",
        response,
    )


# HIS-03 -----------------------------------------------------------------------------------------
def _all_listed(ctx: CheckContext, his: History) -> None:
    """Every transaction the run made (and accepted) is listed: a lost one is a defect; one
    still missing after the default deadline only an advisory (settling time is not
    documented: D78), after a deadline the user chose a failure (D79)."""
    if his.complete:
        return
    message = (
        f"after {ctx.settings.settle_timeout:g} s the history of a user with {MADE[reconcile.CREDIT]} "
        f"credit_points, {MADE[reconcile.DEBIT]} debit_points and 1 exchange accepted (202) lists "
        f"{len(his.rows)} rows, or its listing kept changing"
    )
    evidence = his.reads or [his.response]
    if ctx.settings.settle_deadline_chosen:
        raise Nonconformity(message, evidence)
    advise(False, message, *evidence, decision="D78")
    raise Untestable("the history user's transactions were not all listed within the default deadline")


@check("HIS-03")
def total_count(ctx: CheckContext) -> None:
    his = history(ctx)
    if his.strangers():
        raise Untestable("the user_auth_id filter lets other users' rows through (see HIS-05)")
    _all_listed(ctx, his)
    his.trusted()
    _, _, listed_total = parse_page(his.response)
    ensure(
        listed_total == his.total,
        f"total_tx_count is {listed_total!r} on a page listing all {his.total} of the user's rows",
        his.response,
    )
    response, _, total = page(ctx, {"user_auth_id": his.user, "limit": PAGE})
    expect_status(response, (200,), "GET /transactions?user_auth_id=...")
    ensure(
        total == his.total,
        f"total_tx_count is {total!r} with limit={PAGE} for a user whose history lists {his.total} rows",
        response,
        his.response,
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


# HIS-04 -----------------------------------------------------------------------------------------
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
        expect_page_size(response, rows, PAGE, offset, his.total, "the user's history")
        seen += _row_ids(rows)
    judge_walk(seen, his.rows, f"walking the user's history {PAGE} at a time", [*evidence, his.response])


# HIS-05 -----------------------------------------------------------------------------------------
@check("HIS-05")
def user_filter(ctx: CheckContext) -> None:
    ctx.require(prerequisites.HISTORY)  # its owner: a broken prerequisite is this check's finding
    his = history(ctx)
    _no_strangers(his.rows, his.user, f"user_auth_id={his.user}", his.response)
    _new_user(ctx)
    unknown = ctx.api.history({"user_auth_id": f"qc-unknown-{ctx.settings.run_id}"})
    expect_status(unknown, (200, 404), "GET /transactions for an unknown user_auth_id")
    if unknown.status == 200:
        data = unknown.data()
        listed = data.get("transactions") if isinstance(data, dict) else None
        ensure(listed == [], f"an unknown user_auth_id listed transactions: {describe(unknown)}", unknown)


def _no_strangers(rows: Rows, user: str, what: str, response: Response) -> None:
    found = strangers(rows, user)
    ensure(
        not found,
        f"{what} let through rows of user(s) "
        f"{sorted({str(reconcile.row_user_auth_id(r)) for r in found})[:5]}",
        response,
    )


def _new_user(ctx: CheckContext) -> None:
    """A new user of the run's own, with nothing done to it: "If there are no transactions, an
    empty transactions list will be returned" (200, D96). The brand may credit new users on
    its own (D27, D173): such rows are tolerated, but they must be the user's, and counted."""
    idle = ctx.api.new_user("his")
    response, rows, total = page(ctx, {"user_auth_id": idle})
    expect_status(response, (200,), "GET /transactions for a new user (no transactions of the run's)")
    _no_strangers(rows, idle, "user_auth_id=<a new user>", response)
    ensure(
        total == len(rows),
        f"a new user's history lists {len(rows)} rows with total_tx_count {total!r}",
        response,
    )


# HIS-06 -----------------------------------------------------------------------------------------
def _wanted_ids(his: History, types: list[str]) -> set[str]:
    return {str(reconcile.row_id(r)) for r in his.rows if reconcile.row_type(r) in types}


def _check_types(his: History, types: list[str], response: Response, rows: Rows, reported: Any) -> None:
    """The filtered page must hold exactly the user's rows of those types (one page: limit 100)."""
    wrong = sorted({reconcile.row_type(r) for r in rows} - set(types))
    ensure(not wrong, f"types={types} let through rows of type(s) {wrong}", response)
    got = set(_row_ids(rows))
    want = _wanted_ids(his, types)
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


def _types_page(ctx: CheckContext, his: History, types: list[str]) -> Response:
    """The user's rows of ``types`` in the encoding the target reads (D85), the whole answer
    known: a target reading only ``a,b`` may take just one of ``a`` and ``b`` repeated."""
    base: list[tuple[str, Any]] = [("user_auth_id", his.user), ("limit", FULL_PAGE)]
    wanted = set(types)

    def applied(response: Response) -> bool:
        found = _row_types(response)
        return found is not None and all(kind in wanted for kind in found)

    def send(extra: list[tuple[str, str]]) -> Response:
        return ctx.api.history([*base, *extra])

    want = _wanted_ids(his, types)
    return ctx.api.list_filter(send, "types", types, applied, exact=lambda r: _selects(r, want))


def _selects(response: Response, want: set[str]) -> bool:
    data = response.data()
    found = data.get("transactions") if isinstance(data, dict) else None
    if response.status != 200 or not isinstance(found, list):
        return False
    return {str(reconcile.row_id(r)) for r in found if isinstance(r, dict)} == want


@check("HIS-06")
def types_filter(ctx: CheckContext) -> None:
    his = history(ctx)
    his.trusted()
    for types in (["credit_points"], ["exchange"], ["credit_points", "debit_points"]):
        response, rows, reported = parse_page(_types_page(ctx, his, types))
        expect_status(response, (200,), f"GET /transactions with types {types}")
        _check_types(his, types, response, rows, reported)
    _unknown_type(ctx, his)


def lists_no_row(response: Response) -> bool:
    data = response.data()
    return isinstance(data, dict) and data.get("transactions") == []


def _unknown_type(ctx: CheckContext, his: History) -> None:
    def send(extra: list[tuple[str, str]]) -> Response:
        return ctx.api.history([("user_auth_id", his.user), *extra])

    answers = ctx.api.list_unknown_value(send, "types", "qc_bogus_type")
    verdict = unknown_value_verdict(answers, lists_no_row)
    shown = "; ".join(f"types as {encoding}: {describe(r)}" for encoding, r in answers)
    if verdict == "nonconformity":
        raise Nonconformity(
            f"an unknown type must give a 4xx or 200 with an empty list; got {shown}",
            [r for _, r in answers],
        )
    if verdict == "untestable":
        raise Untestable(
            f"types is applied in neither list encoding here ({shown}), so an unknown type cannot be "
            "told from an ignored parameter"
        )


# HIS-07 -----------------------------------------------------------------------------------------
def token_expectation(rows: Rows, token: int) -> tuple[set[str], set[str]]:
    """(must, may) for ``token_id=token`` over ``rows``: rows whose ``token`` it is must come;
    rows whose ``token_to`` it is may (D94: token, or token or token_to); rows showing other
    tokens only must not; a row showing no token at all cannot be judged, so it may."""
    must: set[str] = set()
    may: set[str] = set()
    for row in rows:
        row_key = str(reconcile.row_id(row))
        src, dst = reconcile.row_token_id(row, "token"), reconcile.row_token_id(row, "token_to")
        if src == token:
            must.add(row_key)
        elif dst == token or (src is None and dst is None):
            may.add(row_key)
    return must, may


@check("HIS-07")
def token_filter(ctx: CheckContext) -> None:
    his = history(ctx)
    his.trusted()
    for token in (his.pair.from_token.id, his.pair.to_token.id):
        response, rows, _ = page(ctx, {"user_auth_id": his.user, "token_id": token, "limit": FULL_PAGE})
        expect_status(response, (200,), f"GET /transactions?token_id={token}")
        must, may = token_expectation(his.rows, token)
        stray = [
            reconcile.row_id(r)
            for r in rows
            if token not in (reconcile.row_token_id(r, "token"), reconcile.row_token_id(r, "token_to"))
            and str(reconcile.row_id(r)) not in may
        ]
        ensure(
            not stray,
            f"token_id={token} let through rows {stray[:5]} that do not involve the token",
            response,
        )
        missing = sorted(must - set(_row_ids(rows)))
        ensure(
            not missing,
            f"token_id={token} left out the user's rows {missing[:10]} whose token it is",
            response,
            his.response,
        )


# HIS-08 -----------------------------------------------------------------------------------------


def _window_ids(stamped: list[tuple[dict[str, Any], datetime]], keep: Callable[[datetime], bool]) -> set[str]:
    return {str(reconcile.row_id(r)) for r, t in stamped if keep(t)}


@check("HIS-08")
def time_filters(ctx: CheckContext) -> None:
    his = history(ctx)
    his.trusted()
    stamped = [(r, _shown(r)) for r in his.rows]
    if not stamped or any(t is None for _, t in stamped):
        raise Untestable("history rows carry no parseable inserted_at")
    times = [(r, t) for r, t in stamped if t is not None]
    pivot, when = times[len(times) // 2]
    bound = format_time(when)
    _from_time(ctx, his, times, bound, when)
    _to_time(ctx, his, times, pivot, bound, when)
    _outside_window(ctx, his, min(t for _, t in times))


def _from_time(
    ctx: CheckContext, his: History, times: list[tuple[dict[str, Any], datetime]], bound: str, when: datetime
) -> None:
    """from_time = a row's own shown time: every row shown at or after it comes (a shown time is
    never later than the stored one), none shown before it (D48, D93)."""
    at_or_after = _window_ids(times, lambda t: t >= when)
    before = _window_ids(times, lambda t: t < when)
    response, rows, _ = page(ctx, {"user_auth_id": his.user, "from_time": bound, "limit": FULL_PAGE})
    expect_status(response, (200,), f"GET /transactions?from_time={bound}")
    got = set(_row_ids(rows))
    ensure(
        at_or_after <= got,
        f"from_time={bound} (a row's own inserted_at) left out rows "
        f"{sorted(at_or_after - got)}: the bound is inclusive",
        response,
    )
    ensure(not got & before, f"from_time={bound} let through earlier rows {sorted(got & before)}", response)


def _to_time(
    ctx: CheckContext,
    his: History,
    times: list[tuple[dict[str, Any], datetime]],
    pivot: dict[str, Any],
    bound: str,
    when: datetime,
) -> None:
    """to_time = the row's shown time: rows shown before it come, rows shown after it never
    (D93, fail); the row itself comes when its stored time is the shown one (D49, warn)."""
    before = _window_ids(times, lambda t: t < when)
    after = _window_ids(times, lambda t: t > when)
    response, rows, _ = page(ctx, {"user_auth_id": his.user, "to_time": bound, "limit": FULL_PAGE})
    expect_status(response, (200,), f"GET /transactions?to_time={bound}")
    got = set(_row_ids(rows))
    ensure(before <= got, f"to_time={bound} left out earlier rows {sorted(before - got)}", response)
    ensure(not got & after, f"to_time={bound} let through later rows {sorted(got & after)}", response)
    pivot_id = str(reconcile.row_id(pivot))
    if pivot_id in got or not _stored_as_shown(ctx, his, pivot_id, when, pivot.get("inserted_at")):
        return
    advise(
        False,
        f"to_time={bound}, the row's own inserted_at (stored at exactly that time: from_time one "
        f"microsecond later leaves it out), left row {pivot_id} out: to_time is read as inclusive",
        response,
        decision="D49",
        expected=f"row {pivot_id} listed",
        actual="left out",
    )


def _stored_as_shown(ctx: CheckContext, his: History, row: str, when: datetime, shown: object) -> bool:
    """Whether a row is stored at exactly its shown time: from_time one microsecond later leaves
    it out (from_time inclusive is verified first). A shown time cut from a finer stored one
    (7-9 digits) is never sent back (D154); a refused probe proves nothing."""
    if fraction_digits(shown) > MICRO_DIGITS:
        return False
    later = format_time(when + ONE_MICROSECOND)
    response, rows, _ = page(ctx, {"user_auth_id": his.user, "from_time": later, "limit": FULL_PAGE})
    return response.status == 200 and row not in _row_ids(rows)


def _outside_window(ctx: CheckContext, his: History, earliest: datetime) -> None:
    """The user's rows often share one second, so the bounds above may exclude nothing:
    a window that ends before every row, or starts in the far future, must list none."""
    before = format_time(earliest.replace(microsecond=0) - timedelta(seconds=1))
    # A 4xx is tolerated on both probes (D156): a window may end before its default start (the
    # brand's creation, possibly moments before) or start after its default end (now).
    response, rows, _ = page(ctx, {"user_auth_id": his.user, "to_time": before, "limit": FULL_PAGE})
    if not 400 <= response.status < 500:
        expect_status(response, (200,), f"GET /transactions?to_time={before} (200, or a 4xx)")
    ensure(
        not rows,
        f"to_time={before}, a second before the user's first transaction, let through rows "
        f"{sorted(_row_ids(rows))[:5]}",
        response,
        his.response,
    )
    future = "2999-01-01T00:00:00Z"
    response, rows, _ = page(ctx, {"user_auth_id": his.user, "from_time": future, "limit": FULL_PAGE})
    if not 400 <= response.status < 500:
        expect_status(response, (200,), f"GET /transactions?from_time={future} (200, or a 4xx)")
    ensure(not rows, f"from_time={future} let through rows {sorted(_row_ids(rows))[:5]}", response)


# HIS-09 -----------------------------------------------------------------------------------------
def _walk_user(ctx: CheckContext) -> tuple[str, Listing]:
    """A user with 36 credits and a debit after every 4th: a types filter thins every window of
    10 of its rows, so limit/offset applied before the filter shows as short pages."""
    user = ctx.api.new_user("hisw")
    ctx.api.fund(user, WALK_FUNDS)
    debits = 0
    for start in range(0, WALK_CREDITS, WALK_DEBIT_EVERY):
        # The credits between two debits may land in any order: they are sent side by side.
        batch = min(WALK_DEBIT_EVERY, WALK_CREDITS - start)
        credits = [("credit_points", user, 1)] * batch
        for response in map_in_threads(lambda args: ctx.api.points(*args), credits, workers=batch):
            _accepted(response, "credit_points")
        if batch == WALK_DEBIT_EVERY:
            _accepted(ctx.api.points("debit_points", user, 1), "debit_points")
            debits += 1
    made = {reconcile.CREDIT: WALK_CREDITS + 1, reconcile.DEBIT: debits}
    found = listing(ctx, user, made, sum(made.values()))
    if strangers(found.rows, user):
        raise Untestable("the user_auth_id filter lets other users' rows through (see HIS-05)")
    if not found.complete:
        raise Untestable(
            f"the history of a user given {WALK_CREDITS + 1} credits and {debits} debits did not list them "
            f"all, or kept changing, within {ctx.settings.settle_timeout:g} s (see HIS-03)"
        )
    return user, found


def _walk_page(ctx: CheckContext, user: str, offset: int) -> Response:
    base: list[tuple[str, Any]] = [("user_auth_id", user), ("limit", WALK_LIMIT), ("offset", offset)]

    def applied(response: Response) -> bool:
        found = _row_types(response)
        return found is not None and all(kind == reconcile.CREDIT for kind in found)

    def send(extra: list[tuple[str, str]]) -> Response:
        return ctx.api.history([*base, *extra])

    return ctx.api.list_filter(send, "types", [reconcile.CREDIT], applied)


@check("HIS-09")
def filtered_walk(ctx: CheckContext) -> None:
    ctx.require(prerequisites.HISTORY)
    user, found = _walk_user(ctx)
    matching = [r for r in found.rows if reconcile.row_type(r) == reconcile.CREDIT]
    total = len(matching)
    what = f"types=credit_points&user_auth_id=<user> ({total} matching rows)"
    seen: list[str] = []
    evidence: list[Response] = []
    for offset in range(0, total, WALK_LIMIT):
        response, rows, reported = parse_page(_walk_page(ctx, user, offset))
        evidence.append(response)
        expect_status(response, (200,), f"GET /transactions?{what}&limit={WALK_LIMIT}&offset={offset}")
        wrong = sorted({reconcile.row_type(r) for r in rows} - {reconcile.CREDIT})
        ensure(not wrong, f"{what} let through rows of type(s) {wrong}", response)
        _no_strangers(rows, user, what, response)
        ensure(
            reported == total,
            f"{what}: total_tx_count is {reported!r} at offset {offset}; the user's unfiltered history "
            f"lists {total} credit_points rows",
            response,
            found.response,
            expected=str(total),
            actual=repr(reported),
        )
        expect_page_size(response, rows, WALK_LIMIT, offset, total, what)
        seen += _row_ids(rows)
    judge_walk(seen, matching, f"walking {what} {WALK_LIMIT} at a time", [*evidence, found.response])
