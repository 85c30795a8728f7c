"""Reading what a history and a balance say, tolerantly, for every check and the load run.

History rows are read whatever the target names their fields (ids int or digit string,
amounts as numbers or decimal strings, "points_burned" or an equivalent field) and their
statuses ("success" documented; in-flight and failed names free). ``ledger`` sums what the
settled rows say a balance of one token must be; the load run's reconciliation
(``qiibee_conformance.loadtest.reconciliation``) and the settlement checks build on it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from qiibee_conformance.client import ApiClient, Response
from qiibee_conformance.discovery import parse_rate, parse_token_id
from qiibee_conformance.evidence import Exchange
from qiibee_conformance.polling import poll

PAGE = 100
# Fields a target may use for the points an exchange burned ("points_burned" or an equivalent amount).
BURNED_FIELDS = ("points_burned", "amount_burned", "burned_amount", "points", "amount")
# The documented credit_points row carries its amount in amount_received.
CREDIT_FIELDS = ("amount_received", "amount", "points")
DEBIT_FIELDS = (*BURNED_FIELDS, "amount_received")
CREDIT = "credit_points"
DEBIT = "debit_points"


# Reading history rows ---------------------------------------------------------------------
def row_type(row: dict[str, Any]) -> str:
    return str(row.get("loyalty_event_type") or row.get("type") or "").lower()


def row_status(row: dict[str, Any]) -> str:
    return str(row.get("status") or "").lower()


def row_id(row: dict[str, Any]) -> str | None:
    value = row.get("id")
    return None if value is None else str(value)


def row_token_id(row: dict[str, Any], key: str = "token") -> int | None:
    token = row.get(key)
    if isinstance(token, dict):
        return parse_token_id(token.get("id"))
    return parse_token_id(row.get(f"{key}_id"))


def row_user_auth_id(row: dict[str, Any]) -> str | None:
    user = row.get("user")
    if isinstance(user, dict) and user.get("auth_id") is not None:
        return str(user["auth_id"])
    value = row.get("user_auth_id")
    return None if value is None else str(value)


def row_number(row: dict[str, Any], *keys: str) -> Fraction | None:
    """The first of ``keys`` that holds a number."""
    for key in keys:
        value = parse_rate(row.get(key))
        if value is not None:
            return value
    return None


def points_burned(row: dict[str, Any]) -> Fraction | None:
    return row_number(row, *BURNED_FIELDS)


def row_amount(row: dict[str, Any]) -> Fraction | None:
    """What the row moves: credited for a credit, debited for a debit, burned for anything else."""
    kind = row_type(row)
    if kind == CREDIT:
        return row_number(row, *CREDIT_FIELDS)
    if kind == DEBIT:
        return row_number(row, *DEBIT_FIELDS)
    return points_burned(row)


# Settlement statuses (DECISIONS: exchange statuses). "success" is the documented one; the in-flight
# and failed names are the target's choice. Names below are read as in flight or failed; any other
# name is read as in flight: a name that never moves on is an unsettled transaction, reported as
# such, never silently taken for a failure.
SUCCESS = "success"
FAILED_NAMES = frozenset(
    {"failed", "failure", "reversed", "refunded", "rejected", "cancelled", "canceled", "error", "declined",
     "expired", "aborted", "voided"}
)
IN_FLIGHT, SETTLED_SUCCESS, SETTLED_FAILED = "in-flight", "success", "failed"


def settlement_state(row: dict[str, Any]) -> str:
    """``success``, ``failed`` or ``in-flight`` for a history row, whatever its status is called."""
    status = row_status(row)
    if status == SUCCESS:
        return SETTLED_SUCCESS
    if status in FAILED_NAMES:
        return SETTLED_FAILED
    return IN_FLIGHT


def is_pending(row: dict[str, Any]) -> bool:
    """In flight: not (yet) a final status."""
    return settlement_state(row) == IN_FLIGHT


def is_failed(row: dict[str, Any]) -> bool:
    return settlement_state(row) == SETTLED_FAILED


def is_nft_row(row: dict[str, Any]) -> bool:
    kind = row_type(row)
    if "nft" in kind:
        return True
    to = row.get("token_to")
    return isinstance(to, dict) and str(to.get("type") or "").lower() == "erc721" and kind != "exchange"


@dataclass
class HistoryRead:
    """The rows a walk of the history pages read, and whether it could read them all."""

    rows: list[dict[str, Any]]
    evidence: list[Exchange]
    total: int | None = None  # total_tx_count of the last page read
    complete: bool = True  # every page answered 200 with a list of rows
    foreign: int = 0  # rows of other users a user filter let through, dropped

    @property
    def failed_status(self) -> int | None:
        """The status of the page that could not be read (None when every page was read)."""
        return None if self.complete or not self.evidence else self.evidence[-1].status


def read_history(
    client: ApiClient, params: dict[str, Any] | None = None, *, max_rows: int = 100_000
) -> HistoryRead:
    """Every row matching ``params``, walking the pages, with the count and the exchanges made."""
    read = HistoryRead(rows=[], evidence=[])
    offset = 0
    while offset < max_rows:
        query = dict(params or {})
        query.update(limit=PAGE, offset=offset)
        response = client.get("/transactions", params=query)
        read.evidence.append(response.exchange)
        data = response.data()
        page = data.get("transactions") if isinstance(data, dict) else None
        if response.status != 200 or not isinstance(page, list):
            read.complete = False
            break
        read.rows.extend(r for r in page if isinstance(r, dict))
        total = data.get("total_tx_count") if isinstance(data, dict) else None
        if isinstance(total, int) and not isinstance(total, bool):
            read.total = total
        offset += PAGE
        if len(page) < PAGE or (read.total is not None and offset >= read.total):
            break
    return read


def fetch_history(
    client: ApiClient, params: dict[str, Any] | None = None, *, max_rows: int = 100_000
) -> tuple[list[dict[str, Any]], list[Exchange]]:
    """Every row matching ``params``, walking the pages; plus the exchanges made."""
    read = read_history(client, params, max_rows=max_rows)
    return read.rows, read.evidence


def read_user_history(client: ApiClient, auth_id: str) -> HistoryRead:
    """The user's rows; rows of other users are dropped here, so a broken ``user_auth_id`` filter
    (a finding of its own) does not disturb what is read from the history."""
    read = read_history(client, {"user_auth_id": auth_id})
    own = [r for r in read.rows if row_user_auth_id(r) in (auth_id, None)]
    read.foreign, read.rows = len(read.rows) - len(own), own
    return read


def fetch_user_history(client: ApiClient, auth_id: str) -> tuple[list[dict[str, Any]], list[Exchange]]:
    """The user's rows (``read_user_history``) and the exchanges made."""
    read = read_user_history(client, auth_id)
    return read.rows, read.evidence


def balance_from(data: Any, token_id: int) -> Fraction | None:
    """The balance of ``token_id`` in the ``data`` of a balances answer (0 when the token is not
    listed); None when it is not a readable balance list."""
    if not isinstance(data, list):
        return None
    for entry in data:
        if not isinstance(entry, dict):
            continue
        token = entry.get("token")
        raw_id = token.get("id") if isinstance(token, dict) else entry.get("token_id")
        if parse_token_id(raw_id) == token_id:
            return parse_rate(entry.get("balance"))
    return Fraction(0)


def balance_in(response: Response, token_id: int) -> Fraction | None:
    """The balance of ``token_id`` a balances answer shows (0 when the token is not listed);
    None when the answer is not a readable balance list."""
    return balance_from(response.data(), token_id) if response.status == 200 else None


def fetch_balance(client: ApiClient, auth_id: str, token_id: int) -> tuple[Fraction | None, Exchange]:
    """The user's balance of the token (0 when the token is not listed); None if unreadable."""
    response = client.get(f"/users/{auth_id}/balances")
    return balance_in(response, token_id), response.exchange


# The ledger ------------------------------------------------------------------------------
@dataclass
class Ledger:
    """What the history says a user's balance of one token must be."""

    credits: Fraction = Fraction(0)
    debits: Fraction = Fraction(0)
    burned: Fraction = Fraction(0)
    received: Fraction = Fraction(0)
    ignored: list[str] = field(default_factory=list)

    @property
    def expected(self) -> Fraction:
        return self.credits - self.debits - self.burned + self.received


def ledger(rows: Iterable[dict[str, Any]], token_id: int) -> Ledger:
    """Sum the settled rows that move ``token_id`` (failed rows move nothing)."""
    result = Ledger()
    for row in rows:
        if is_failed(row):
            continue
        kind = row_type(row)
        src = row_token_id(row, "token")
        dst = row_token_id(row, "token_to")
        if kind == CREDIT and src == token_id:
            result.credits += row_amount(row) or 0
        elif kind == DEBIT and src == token_id:
            result.debits += row_amount(row) or 0
        elif src == token_id and (kind == "exchange" or is_nft_row(row)):
            result.burned += points_burned(row) or 0
        elif dst == token_id and src != token_id and settlement_state(row) == SETTLED_SUCCESS:
            result.received += row_number(row, "amount_received") or 0
        elif token_id in (src, dst):
            result.ignored.append(f"row {row_id(row)} of type {kind!r}")
    return result


def wait_settled(client: ApiClient, auth_id: str, *, deadline: float) -> tuple[HistoryRead, bool]:
    """Read the user's history until no row is in flight or the deadline passes (polled with
    backoff); the last read, and whether it showed every row settled."""
    reads: list[HistoryRead] = []

    def settled() -> bool:
        reads[:] = [read_user_history(client, auth_id)]
        return not any(is_pending(r) for r in reads[0].rows)

    done = poll(settled, max(0.0, deadline - time.monotonic()))
    return reads[0], done


def wait_until_settled(
    client: ApiClient, auth_id: str, *, deadline: float
) -> tuple[list[dict[str, Any]], list[Exchange], bool]:
    """Poll the user's history until no row is in flight or the deadline passes."""
    read, done = wait_settled(client, auth_id, deadline=deadline)
    return read.rows, read.evidence, done
