"""Balances must agree with the history once everything has settled.

Used after a load test and by the settlement checks: for each user, wait until
no transaction is pending, then balance == credits − debits − points burned by
non-failed exchanges/NFT redemptions (+ points received into the token), and no
transaction id may appear twice. Rows are read tolerantly (ids int or digit
string, amounts as numbers or decimal strings, "points_burned" or an
equivalent field).
"""

from __future__ import annotations

import time
from collections import Counter
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


def fetch_history(
    client: ApiClient, params: dict[str, Any] | None = None, *, max_rows: int = 100_000
) -> tuple[list[dict[str, Any]], list[Exchange]]:
    """Every row matching ``params``, walking the pages; plus the exchanges made."""
    rows: list[dict[str, Any]] = []
    evidence: list[Exchange] = []
    offset = 0
    while offset < max_rows:
        query = dict(params or {})
        query.update(limit=PAGE, offset=offset)
        response = client.get("/transactions", params=query)
        evidence.append(response.exchange)
        data = response.data()
        page = data.get("transactions") if isinstance(data, dict) else None
        if response.status != 200 or not isinstance(page, list):
            break
        rows.extend(r for r in page if isinstance(r, dict))
        total = data.get("total_tx_count") if isinstance(data, dict) else None
        offset += PAGE
        if len(page) < PAGE or (isinstance(total, int) and offset >= total):
            break
    return rows, evidence


def fetch_user_history(client: ApiClient, auth_id: str) -> tuple[list[dict[str, Any]], list[Exchange]]:
    """The user's rows; rows of other users are dropped here, so a broken ``user_auth_id`` filter
    (a finding of its own) does not disturb what is read from the history."""
    rows, evidence = fetch_history(client, {"user_auth_id": auth_id})
    return [r for r in rows if row_user_auth_id(r) in (auth_id, None)], evidence


def balance_in(response: Response, token_id: int) -> Fraction | None:
    """The balance of ``token_id`` a balances answer shows (0 when the token is not listed);
    None when the answer is not a readable balance list."""
    data = response.data()
    if response.status != 200 or not isinstance(data, list):
        return None
    for entry in data:
        if not isinstance(entry, dict):
            continue
        token = entry.get("token")
        raw_id = token.get("id") if isinstance(token, dict) else entry.get("token_id")
        if parse_token_id(raw_id) == token_id:
            return parse_rate(entry.get("balance"))
    return Fraction(0)


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
            # The documented credit_points row carries its amount in amount_received.
            result.credits += row_number(row, "amount_received", "amount", "points") or 0
        elif kind == DEBIT and src == token_id:
            result.debits += row_number(row, *BURNED_FIELDS, "amount_received") or 0
        elif src == token_id and (kind == "exchange" or is_nft_row(row)):
            result.burned += points_burned(row) or 0
        elif dst == token_id and src != token_id and settlement_state(row) == SETTLED_SUCCESS:
            result.received += row_number(row, "amount_received") or 0
        elif token_id in (src, dst):
            result.ignored.append(f"row {row_id(row)} of type {kind!r}")
    return result


@dataclass(frozen=True)
class Discrepancy:
    auth_id: str
    message: str
    evidence: list[Exchange] = field(default_factory=list)


@dataclass
class ReconcileReport:
    token_id: int
    users: int = 0
    rows: int = 0
    discrepancies: list[Discrepancy] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.discrepancies

    def to_dict(self) -> dict[str, Any]:
        return {
            "token_id": self.token_id,
            "users": self.users,
            "rows": self.rows,
            "ok": self.ok,
            "discrepancies": [
                {"auth_id": d.auth_id, "message": d.message, "evidence": [e.to_dict() for e in d.evidence]}
                for d in self.discrepancies
            ],
            "notes": self.notes,
        }


def wait_until_settled(
    client: ApiClient, auth_id: str, *, deadline: float
) -> tuple[list[dict[str, Any]], list[Exchange], bool]:
    """Poll the user's history until no row is in flight or the deadline passes."""
    read: list[tuple[list[dict[str, Any]], list[Exchange]]] = []

    def settled() -> bool:
        read[:] = [fetch_user_history(client, auth_id)]
        return not any(is_pending(r) for r in read[0][0])

    done = poll(settled, max(0.0, deadline - time.monotonic()))
    rows, evidence = read[0]
    return rows, evidence, done


def reconcile_user(
    client: ApiClient, auth_id: str, token_id: int, *, settle_timeout: float
) -> tuple[list[Discrepancy], int, list[str]]:
    """Check one user; returns (discrepancies, rows read, notes)."""
    deadline = time.monotonic() + settle_timeout
    rows, evidence, settled = wait_until_settled(client, auth_id, deadline=deadline)
    found: list[Discrepancy] = []
    if not settled:
        pending = [row_id(r) for r in rows if is_pending(r)]
        found.append(
            Discrepancy(
                auth_id,
                f"{len(pending)} transaction(s) still pending after {settle_timeout:g} s: {pending[:10]}",
                evidence[-1:],
            )
        )
    ids = [i for i in (row_id(r) for r in rows) if i is not None]
    dupes = sorted(i for i, n in Counter(ids).items() if n > 1)
    if dupes:
        found.append(Discrepancy(auth_id, f"transaction id(s) listed more than once: {dupes[:10]}", evidence))
    book = ledger(rows, token_id)
    balance, balance_evidence = fetch_balance(client, auth_id, token_id)
    if balance is None:
        found.append(Discrepancy(auth_id, "the balance could not be read", [balance_evidence]))
    elif balance < 0:
        found.append(Discrepancy(auth_id, f"negative balance {balance}", [balance_evidence]))
    elif settled and balance != book.expected:
        found.append(
            Discrepancy(
                auth_id,
                f"balance {balance} != credits {book.credits} - debits {book.debits} - burned {book.burned}"
                f" + received {book.received} = {book.expected} (from {len(rows)} history rows)",
                [balance_evidence, *evidence[-2:]],
            )
        )
    notes = [f"{auth_id}: ignored {item}" for item in book.ignored]
    return found, len(rows), notes


def reconcile_users(
    client: ApiClient, auth_ids: Iterable[str], token_id: int, *, settle_timeout: float
) -> ReconcileReport:
    """Reconcile every user's balance of ``token_id`` with their history."""
    report = ReconcileReport(token_id=token_id)
    for auth_id in auth_ids:
        found, rows, notes = reconcile_user(client, auth_id, token_id, settle_timeout=settle_timeout)
        report.users += 1
        report.rows += rows
        report.discrepancies.extend(found)
        report.notes.extend(notes)
    return report
