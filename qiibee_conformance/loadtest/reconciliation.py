"""After the run: balances against the history, and the history against our ledger.

``qiibee_conformance.reconcile`` checks, per user, that nothing is still
pending past the deadline, that no transaction id appears twice and that the
balance equals credits − debits − burned. On top of that, the ledger of what
the Locust users sent lets us check the rule the target's own history cannot:
every accepted (202) money move appears exactly once. Requests whose answer
never arrived (in flight when the run stopped) may appear once or not at all;
a rejected one may appear only as a failed row.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from qiibee_conformance.client import ApiClient
from qiibee_conformance.loadtest.common import MONEY_KINDS
from qiibee_conformance.loadtest.ledger import Attempt, LedgerContents
from qiibee_conformance.reconcile import (
    BURNED_FIELDS,
    fetch_history,
    is_failed,
    points_burned,
    reconcile_users,
    row_id,
    row_number,
    row_token_id,
    row_type,
)

Key = tuple[str, int, Fraction]


def row_key(row: dict[str, Any]) -> Key | None:
    """(kind, source token, amount) of a money row; None for other rows or unreadable amounts."""
    kind = row_type(row)
    token = row_token_id(row, "token")
    if kind not in MONEY_KINDS or token is None:
        return None
    if kind == "credit_points":
        amount = row_number(row, "amount_received", "amount", "points")
    elif kind == "debit_points":
        amount = row_number(row, *BURNED_FIELDS, "amount_received")
    else:
        amount = points_burned(row)
    return None if amount is None else (kind, token, amount)


def _describe(key: Key) -> str:
    kind, token, amount = key
    return f"{kind} of {amount} (token {token})"


def check_acceptances(attempts: Iterable[Attempt], rows: Iterable[dict[str, Any]]) -> list[str]:
    """Problems with how one user's money moves appear in their history."""
    accepted: Counter[Key] = Counter()
    unknown: Counter[Key] = Counter()
    rejected: Counter[Key] = Counter()
    tx_ids: list[str] = []
    moved: set[tuple[str, int]] = set()
    for attempt in attempts:
        moved.add((attempt.kind, attempt.token))
        key: Key = (attempt.kind, attempt.token, Fraction(attempt.amount))
        if attempt.accepted:
            accepted[key] += 1
            if attempt.tx_id is not None:
                tx_ids.append(attempt.tx_id)
        elif attempt.rejected:
            rejected[key] += 1
        else:
            unknown[key] += 1
    listed: Counter[Key] = Counter()
    live: Counter[Key] = Counter()
    row_ids: Counter[str] = Counter()
    for row in rows:
        ident = row_id(row)
        if ident is not None:
            row_ids[ident] += 1
        row_k = row_key(row)
        # Rows of a kind and token this run never sent (e.g. a target that books received
        # points as a credit of the partner token) are not ours to count.
        if row_k is None or (row_k[0], row_k[1]) not in moved:
            continue
        listed[row_k] += 1
        if not is_failed(row):
            live[row_k] += 1
    problems: list[str] = []
    for key in sorted(set(accepted) | set(listed), key=str):
        if listed[key] < accepted[key]:
            problems.append(
                f"{accepted[key]} accepted (202) {_describe(key)} but {listed[key]} in the history"
            )
        elif (
            live[key] > accepted[key] + unknown[key]
            or listed[key] > accepted[key] + unknown[key] + rejected[key]
        ):
            problems.append(
                f"{listed[key]} history rows for {_describe(key)} but only {accepted[key]} accepted"
                f" and {unknown[key]} unanswered request(s)"
            )
    missing = [tx for tx in tx_ids if row_ids[tx] == 0]
    if missing:
        problems.append(f"accepted transaction id(s) missing from the history: {missing[:10]}")
    return problems


@dataclass
class ReconciliationResult:
    users: int = 0
    rows: int = 0
    discrepancies: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ledger: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.discrepancies and not self.interrupted

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "users": self.users,
            "rows": self.rows,
            "ledger": self.ledger,
            "discrepancies": self.discrepancies,
            "notes": self.notes[:50],
            "interrupted": self.interrupted,
        }


def touched_users(contents: LedgerContents) -> list[str]:
    """Users with at least one money move, in first-touch order."""
    return list(dict.fromkeys(a.user for a in contents.attempts if a.kind in MONEY_KINDS))


def reconcile_run(
    client: ApiClient, contents: LedgerContents, token_id: int, *, settle_timeout: float
) -> ReconciliationResult:
    """Reconcile every touched user; one deadline for the whole run, not one per user."""
    result = ReconciliationResult(ledger=contents.counts())
    if contents.bad_lines:
        result.notes.append(f"{contents.bad_lines} unreadable ledger line(s) skipped")
    by_user = contents.by_user()
    deadline = time.monotonic() + settle_timeout
    try:
        for auth_id in touched_users(contents):
            remaining = max(1.0, deadline - time.monotonic())
            report = reconcile_users(client, [auth_id], token_id, settle_timeout=remaining)
            result.users += 1
            result.rows += report.rows
            result.notes.extend(report.notes)
            for found in report.discrepancies:
                result.discrepancies.append(
                    {
                        "auth_id": found.auth_id,
                        "message": found.message,
                        "evidence": [e.to_dict() for e in found.evidence[:3]],
                    }
                )
            rows, evidence = fetch_history(client, {"user_auth_id": auth_id})
            for message in check_acceptances(by_user.get(auth_id, []), rows):
                result.discrepancies.append(
                    {"auth_id": auth_id, "message": message, "evidence": [e.to_dict() for e in evidence[-2:]]}
                )
    except KeyboardInterrupt:
        result.interrupted = True
        result.notes.append("reconciliation interrupted: the users after the first ones were not checked")
    return result
