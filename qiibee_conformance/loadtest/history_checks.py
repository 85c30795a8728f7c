"""Checks on each page of a history walk that hold for every correct target.

Two modes. On a *frozen* window (``to_time`` far enough in the past that no new
row can enter it) the totals must be exact: every page as long as
``total_tx_count`` implies and every row seen once. On a live window other
users write while we walk, so only what survives concurrent inserts on a
correct, non-snapshot server is checked: page size, order within each page,
filters, and a count that never shrinks (the history is append-only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import urlencode

from qiibee_conformance.reconcile import row_id, row_token_id, row_type, row_user_auth_id
from qiibee_conformance.times import seconds

MAX_PAGES = 1000
_ORDER_SLACK = 1.0  # seconds


@dataclass(frozen=True)
class Filters:
    user: str | None = None
    types: tuple[str, ...] = ()
    token: int | None = None
    from_time: str | None = None
    to_time: str | None = None
    # `types[]` or `types`: both tolerated encodings; the plan found which one the target applies
    types_key: str = "types[]"

    def query(self, limit: int, offset: int) -> list[tuple[str, str]]:
        """Query pairs; ``types`` goes as ``types_key=a&types_key=b``."""
        pairs: list[tuple[str, str]] = [("limit", str(limit)), ("offset", str(offset))]
        if self.user is not None:
            pairs.append(("user_auth_id", self.user))
        pairs.extend((self.types_key, t) for t in self.types)
        if self.token is not None:
            pairs.append(("token_id", str(self.token)))
        if self.from_time is not None:
            pairs.append(("from_time", self.from_time))
        if self.to_time is not None:
            pairs.append(("to_time", self.to_time))
        return pairs

    @property
    def on_rows(self) -> bool:
        """Whether the checks read each row's user, type or token (not only its time)."""
        return self.user is not None or bool(self.types) or self.token is not None

    @cached_property
    def encoded(self) -> str:
        """The filter part of the query string, ``&``-prefixed (empty without filters)."""
        pairs = self.query(0, 0)[2:]
        return "&" + urlencode(pairs) if pairs else ""

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in self.query(0, 0)[2:]]
        return "&".join(parts) or "no filter"


@dataclass(frozen=True)
class Problem:
    """What a page broke: a fail-level rule, a contract finding (see ``PageAdvisory``)."""

    rule: str
    message: str  # stable: Locust groups failures by it
    detail: str = ""

    @property
    def decision(self) -> str:
        """The warn-level DECISIONS id an advisory rests on; "" for a fail-level rule."""
        return ""

    @property
    def advisory(self) -> bool:
        return bool(self.decision)


@dataclass(frozen=True)
class PageAdvisory(Problem):
    """A warn-level reading the page did not follow: reported as an advisory, and the request
    still counts as a success.

    A subclass rather than a field of ``Problem``: measured, a fourth field on ``Problem``
    slows ``check_page`` by some 15 % per page (CPython 3.11), though the plain walk makes none."""

    reading: str = ""  # the DECISIONS id

    @property
    def decision(self) -> str:
        return self.reading


_OUTSIDE_WINDOW = Problem("HIS-08", "from_time/to_time filter let through a row outside the window")


@dataclass
class Walk:
    filters: Filters
    limit: int
    frozen: bool
    offset: int = 0
    pages: int = 0
    total: int | None = None
    seen: dict[str, float | None] = field(default_factory=dict)  # id -> inserted_at (POSIX seconds)
    last_time: float | None = None  # oldest inserted_at seen so far (POSIX seconds)
    done: bool = False

    def path(self) -> str:
        return f"/transactions?limit={self.limit}&offset={self.offset}{self.filters.encoded}"


def _row_problems(walk: Walk, row: dict[str, Any]) -> list[Problem]:
    """The user, type and token filters on one row."""
    found: list[Problem] = []
    f = walk.filters
    if f.user is not None:
        users = {row_user_auth_id(row)}
        user_to = row.get("user_to")
        if isinstance(user_to, dict) and user_to.get("auth_id") is not None:
            users.add(str(user_to["auth_id"]))
        if f.user not in users:
            found.append(Problem("HIS-05", "user_auth_id filter let through another user's row"))
    if f.types and row_type(row) not in f.types:
        found.append(Problem("HIS-06", "types filter let through a row of another type"))
    if f.token is not None and f.token not in (row_token_id(row, "token"), row_token_id(row, "token_to")):
        found.append(Problem("HIS-07", "token_id filter let through a row without that token"))
    return found


def _page(walk: Walk, status: int, body: object) -> tuple[list[Any], int] | list[Problem]:
    """The page's rows and ``total_tx_count``, or the problem that ends the walk."""
    if status != 200:
        return [Problem("", f"HTTP {status}")]
    data = body.get("data") if isinstance(body, dict) else None
    rows = data.get("transactions") if isinstance(data, dict) else None
    total = data.get("total_tx_count") if isinstance(data, dict) else None
    if not isinstance(rows, list) or isinstance(total, bool) or not isinstance(total, int) or total < 0:
        return [Problem("HIS-03", "body lacks data.transactions (list) or data.total_tx_count (integer)")]
    return rows, total


def _count_problems(walk: Walk, rows: list[Any], total: int) -> list[Problem]:
    """Page length and ``total_tx_count`` against the limit and the pages before."""
    found: list[Problem] = []
    if len(rows) > walk.limit:
        found.append(Problem("HIS-02", f"page longer than limit={walk.limit}"))
    if walk.total is not None:
        if walk.frozen and total != walk.total:
            found.append(Problem("HIS-03", "total_tx_count changed during a walk of a frozen window"))
        elif total < walk.total:
            found.append(
                Problem("HIS-03", "total_tx_count shrank during the walk (the history is append-only)")
            )
    expected = min(walk.limit, max(0, total - walk.offset))
    if walk.frozen and len(rows) != expected:
        found.append(
            Problem(
                "HIS-04",
                "page length disagrees with total_tx_count on a frozen window",
                f"offset {walk.offset}: {len(rows)} rows, total_tx_count {total} implies {expected}",
            )
        )
    return found


def _order_problems(walk: Walk, rows: list[Any]) -> list[Problem]:
    """Newest first, and inside the time window; stops at a row that is not an object."""
    found: list[Problem] = []
    low, high = seconds(walk.filters.from_time), seconds(walk.filters.to_time)
    last = walk.last_time
    for row in rows:
        if not isinstance(row, dict):
            found.append(Problem("HIS-03", "a transaction is not a JSON object"))
            break
        moment = seconds(row.get("inserted_at"))
        if moment is None:
            continue
        if last is None or moment < last:
            last = moment
        elif moment > last + _ORDER_SLACK:
            found.append(Problem("HIS-01", "rows not newest first"))
        if (low is not None and moment < low) or (high is not None and moment > high):
            found.append(_OUTSIDE_WINDOW)
    walk.last_time = last
    return found


def _identity_problems(walk: Walk, rows: list[Any]) -> list[Problem]:
    """A frozen window's rows are each listed once over the whole walk."""
    found: list[Problem] = []
    seen = walk.seen
    for row in rows:
        if not isinstance(row, dict):
            break
        ident = row_id(row)
        if ident is None:
            continue
        moment = seconds(row.get("inserted_at"))
        if ident in seen:
            found.append(_twice(seen, ident, moment, rows))
        seen[ident] = moment
    return found


def _filter_problems(walk: Walk, rows: list[Any]) -> list[Problem]:
    found: list[Problem] = []
    for row in rows:
        if not isinstance(row, dict):
            break
        found.extend(_row_problems(walk, row))
    return found


def _advance(walk: Walk, rows: list[Any], total: int, found: list[Problem]) -> None:
    walk.total = total if walk.total is None else max(walk.total, total)
    walk.offset += walk.limit
    walk.done = walk.offset >= total if walk.frozen else len(rows) < walk.limit
    if any(not p.advisory for p in found) or walk.pages >= MAX_PAGES:
        walk.done = True


def check_page(walk: Walk, status: int, body: object) -> list[Problem]:
    """Check one page and advance ``walk`` (sets ``done`` at the end or on a problem)."""
    walk.pages += 1
    page = _page(walk, status, body)
    if isinstance(page, list):
        walk.done = True
        return page
    rows, total = page
    found = _count_problems(walk, rows, total)
    if not walk.frozen:
        # Rows inserted between two pages push the tail of the last page onto the next
        # one; those rows are newer than the last one seen, so order is per page here.
        walk.last_time = None
    found += _order_problems(walk, rows)
    if walk.frozen:
        found += _identity_problems(walk, rows)
    # Row filters are checked only when set: a plain walk pays for order and identity only.
    if walk.filters.on_rows:
        found += _filter_problems(walk, rows)
    _advance(walk, rows, total, found)
    return _dedupe(found)


_TWICE = Problem("HIS-04", "a row appeared twice while walking a frozen window")
_TWICE_IN_TIES = PageAdvisory(
    "HIS-04", "a row sharing its inserted_at with others appeared twice while walking a frozen window",
    reading="D92",
)  # fmt: skip


def _twice(seen: dict[str, float | None], ident: str, moment: float | None, page: list[Any]) -> Problem:
    """A row listed again: a failure (D91), unless other rows share its inserted_at, whose order
    SQL leaves free, so a row among them may change pages between two queries (D92, warn).
    Only on this rare path are the other rows' times looked at."""
    if moment is None:
        return _TWICE_IN_TIES  # a time the checks cannot read: nothing shows the times differ
    others = [m for i, m in seen.items() if i != ident]
    others += [seconds(r.get("inserted_at")) for r in page if isinstance(r, dict) and row_id(r) != ident]
    return _TWICE_IN_TIES if moment in others else _TWICE


def _dedupe(problems: list[Problem]) -> list[Problem]:
    unique: dict[tuple[str, str], Problem] = {}
    for problem in problems:
        unique.setdefault((problem.rule, problem.message), problem)
    return list(unique.values())
