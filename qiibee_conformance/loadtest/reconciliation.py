"""After the run: each touched user's balance against its history, and the history against our ledger.

For every user with a money move, the history is read once it has settled (one walk of the
pages, read again only when the walk was visibly unstable) and judged three ways:

- **Settled.** Nothing still in flight at the deadline. Past the default deadline that is an
  advisory (DECISIONS D78); past one the user set (``--settle-timeout``) a discrepancy (D79).
- **The balance moved by what the history says** (D77). A new user may start with points and
  rows of its own (a sign-up bonus, D27), so the balance is judged by its change since the
  run first touched the user (the ledger's baseline), against the rows that came since.
  Without a baseline (a user from elsewhere) the whole history must explain the balance.
- **Every accepted (202) move once** (D80). The ledger of what the Locust users sent lets us
  check what the target's own history cannot: a move whose answer never arrived (in flight
  when the run stopped) may appear once or not at all; a refused one only as a failed row; a
  rate-limited one (429, or 503 with Retry-After: D18) not at all, since the target did nothing.
  Moves are matched to rows by kind, token and amount: the 202's body is not documented (any
  JSON object, D10), so an id found in it is never demanded of the history.

Statuses are read by ``reconcile.settlement_state`` ("success" documented; any in-flight and
failed names), amounts by ``reconcile.row_amount`` (one table for every reader).

Paging: walking the pages of an unchanging history yields every row once when the rows'
``inserted_at`` differ (D91, fail); among rows sharing one ``inserted_at`` the order is free
(D92, warn). A row listed twice among such ties is an advisory, and when rows the count
promises were never listed among ties, the user's balance cannot be judged: an advisory says
so rather than a false discrepancy.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from qiibee_conformance.client import ApiClient
from qiibee_conformance.evidence import Exchange
from qiibee_conformance.loadtest.common import MONEY_KINDS
from qiibee_conformance.loadtest.ledger import Attempt, Baseline, LedgerContents
from qiibee_conformance.reconcile import (
    HistoryRead,
    fetch_balance,
    is_failed,
    is_pending,
    ledger,
    read_user_history,
    row_amount,
    row_id,
    row_token_id,
    row_type,
    wait_settled,
)
from qiibee_conformance.times import seconds

Key = tuple[str, int, Fraction]
Row = dict[str, Any]
REREADS = 3  # further walks of a history whose first walk was visibly unstable
MIN_USER_WAIT_S = 1.0  # every user gets this long to settle, however late in the deadline
EVIDENCE_KEPT = 3


@dataclass(frozen=True)
class Discrepancy:
    """A fail-level break found by reconciliation: money or a transaction lost, created or doubled."""

    auth_id: str
    message: str
    evidence: list[Exchange] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "auth_id": self.auth_id,
            "message": self.message,
            "evidence": [e.to_dict() for e in self.evidence[:EVIDENCE_KEPT]],
        }


@dataclass(frozen=True)
class Advisory:
    """A warn-level reading the target did not follow (the DECISIONS id says which): reported,
    never failing the run (unless ``--strict``)."""

    rule: str
    decision: str
    auth_id: str
    message: str
    evidence: list[Exchange] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "decision": self.decision,
            "auth_id": self.auth_id,
            "message": self.message,
            "evidence": [e.to_dict() for e in self.evidence[:EVIDENCE_KEPT]],
        }


@dataclass
class ReconciliationResult:
    users: int = 0
    rows: int = 0
    discrepancies: list[Discrepancy] = field(default_factory=list)
    advisories: list[Advisory] = field(default_factory=list)
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
            "discrepancies": [d.to_dict() for d in self.discrepancies],
            "advisories": [a.to_dict() for a in self.advisories],
            "notes": self.notes[:50],
            "interrupted": self.interrupted,
        }


# The ledger against the history -------------------------------------------------------------
def row_key(row: Row) -> Key | None:
    """(kind, source token, amount) of a money row; None for other rows or unreadable amounts."""
    kind = row_type(row)
    token = row_token_id(row, "token")
    if kind not in MONEY_KINDS or token is None:
        return None
    amount = row_amount(row)
    return None if amount is None else (kind, token, amount)


def _describe(key: Key) -> str:
    kind, token, amount = key
    return f"{kind} of {amount} (token {token})"


@dataclass
class _Tally:
    """The run's moves of one user by key: accepted, unanswered, refused."""

    accepted: Counter[Key] = field(default_factory=Counter)
    unknown: Counter[Key] = field(default_factory=Counter)
    rejected: Counter[Key] = field(default_factory=Counter)
    moved: set[tuple[str, int]] = field(default_factory=set)


def _tally(attempts: Iterable[Attempt]) -> _Tally:
    tally = _Tally()
    for attempt in attempts:
        tally.moved.add((attempt.kind, attempt.token))
        key: Key = (attempt.kind, attempt.token, Fraction(attempt.amount))
        if attempt.accepted:
            tally.accepted[key] += 1
        elif attempt.rejected:
            tally.rejected[key] += 1
        elif attempt.unknown:
            tally.unknown[key] += 1
        # rate limited: the target did nothing, so no row may come of it
    return tally


def check_acceptances(attempts: Iterable[Attempt], rows: Iterable[Row]) -> list[str]:
    """Problems with how one user's money moves appear in their history."""
    tally = _tally(attempts)
    listed: Counter[Key] = Counter()
    live: Counter[Key] = Counter()
    for row in rows:
        row_k = row_key(row)
        # Rows of a kind and token this run never sent (e.g. a target that books received
        # points as a credit of the partner token) are not ours to count.
        if row_k is None or (row_k[0], row_k[1]) not in tally.moved:
            continue
        listed[row_k] += 1
        if not is_failed(row):
            live[row_k] += 1
    problems: list[str] = []
    accepted, unknown, rejected = tally.accepted, tally.unknown, tally.rejected
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
    return problems


# Reading one user's settled history whole ---------------------------------------------------
@dataclass
class UserHistory:
    """A user's settled history as read, rows listed more than once merged by id."""

    rows: list[Row]
    evidence: list[Exchange]
    settled: bool
    failed_status: int | None = None  # a page could not be read: nothing else is judged
    repeated: list[str] = field(default_factory=list)  # listed twice, distinct inserted_at (D91)
    repeated_in_ties: list[str] = field(default_factory=list)  # listed twice among ties (D92)
    unlisted: int = 0  # rows total_tx_count counts that no walk listed
    ties: bool = False  # rows share one inserted_at, or a row was listed twice

    @property
    def whole(self) -> bool:
        """Every row the count promises was listed: the balance can be judged."""
        return self.failed_status is None and self.unlisted == 0


def _merge(reads: list[HistoryRead]) -> tuple[list[Row], Counter[str]]:
    """The distinct rows of every walk (by id, the first listing kept; rows without an id as the
    first walk listed them) and, per id, the most times one walk listed it."""
    merged: dict[str, Row] = {}
    most: Counter[str] = Counter()
    for read in reads:
        counts: Counter[str] = Counter()
        for row in read.rows:
            ident = row_id(row)
            if ident is not None:
                counts[ident] += 1
                merged.setdefault(ident, row)
        for ident, count in counts.items():
            most[ident] = max(most[ident], count)
    anonymous = [r for r in reads[0].rows if row_id(r) is None]
    return [*merged.values(), *anonymous], most


def _tied_moments(rows: list[Row]) -> set[float]:
    """The inserted_at instants that more than one row shares."""
    moments = Counter(m for m in (seconds(r.get("inserted_at")) for r in rows) if m is not None)
    return {m for m, n in moments.items() if n > 1}


def _unstable(read: HistoryRead) -> bool:
    """The walk listed an id twice, or fewer rows than its count (rows of others aside)."""
    ids = [i for i in (row_id(r) for r in read.rows) if i is not None]
    short = read.total is not None and len(read.rows) + read.foreign < read.total
    return len(ids) != len(set(ids)) or short


def read_settled_history(client: ApiClient, auth_id: str, *, deadline: float) -> UserHistory:
    """The user's history once settled (or at the deadline), walked again up to REREADS times
    while a walk is visibly unstable, and what the walks say about the paging."""
    first, settled = wait_settled(client, auth_id, deadline=deadline)
    if not first.complete:
        return UserHistory(first.rows, first.evidence, settled, failed_status=first.failed_status)
    reads = [first]
    while _unstable(reads[-1]) and len(reads) <= REREADS:
        again = read_user_history(client, auth_id)
        if not again.complete:
            break
        reads.append(again)
        rows, _ = _merge(reads)
        if first.total is not None and len(rows) + again.foreign >= first.total:
            break
    rows, most = _merge(reads)
    tied = _tied_moments(rows)
    twice = sorted(ident for ident, count in most.items() if count > 1)
    unlisted = 0 if first.total is None else max(0, first.total - len(rows) - first.foreign)
    # Rows sharing one inserted_at may change places between two pages (D92): a row listed
    # twice then stands where another one should have been, which may never be listed, so
    # its time cannot be compared. Only a row listed twice with every row listed and no
    # other row at its time is a paging failure (D91).
    by_id = {row_id(r): r for r in rows}
    history = UserHistory(rows, reads[-1].evidence, settled, unlisted=unlisted, ties=bool(tied or twice))
    for ident in twice:
        moment = seconds(by_id[ident].get("inserted_at"))
        in_ties = unlisted > 0 or moment is None or moment in tied
        (history.repeated_in_ties if in_ties else history.repeated).append(ident)
    return history


# Judging one user ---------------------------------------------------------------------------
@dataclass
class Deadline:
    """When settlement must be over, and whose deadline it is (the user's: fail; ours: warn)."""

    at: float
    seconds: float
    explicit: bool

    @classmethod
    def after(cls, seconds: float, *, explicit: bool) -> Deadline:
        return cls(time.monotonic() + seconds, seconds, explicit)

    def for_user(self) -> float:
        """The deadline for the next user: the run's, but never less than MIN_USER_WAIT_S away."""
        return max(self.at, time.monotonic() + MIN_USER_WAIT_S)


def _paging_findings(result: ReconciliationResult, auth_id: str, history: UserHistory) -> None:
    evidence = history.evidence[-2:]
    if history.repeated:
        result.discrepancies.append(
            Discrepancy(
                auth_id, f"transaction id(s) listed more than once: {history.repeated[:10]}", evidence
            )
        )
    if history.repeated_in_ties:
        result.advisories.append(
            Advisory(
                "HIS-04", "D92", auth_id,
                f"walking the user's history listed id(s) {history.repeated_in_ties[:10]} twice, among rows "
                "sharing one inserted_at",
                evidence,
            )
        )  # fmt: skip
    if history.unlisted:
        message = f"total_tx_count counts {history.unlisted} row(s) that no walk of the user's pages listed"
        if history.ties:
            result.advisories.append(
                Advisory(
                    "HIS-04", "D92", auth_id,
                    f"{message} (rows share one inserted_at, so the order among them is free); the "
                    "balance was not judged against an incomplete history",
                    evidence,
                )
            )  # fmt: skip
        else:
            result.discrepancies.append(Discrepancy(auth_id, message, evidence))


def _unsettled(result: ReconciliationResult, auth_id: str, history: UserHistory, deadline: Deadline) -> None:
    pending = [row_id(r) for r in history.rows if is_pending(r)]
    message = f"{len(pending)} transaction(s) still pending after {deadline.seconds:g} s: {pending[:10]}"
    if deadline.explicit:
        result.discrepancies.append(Discrepancy(auth_id, message, history.evidence[-1:]))
    else:
        result.advisories.append(
            Advisory(
                "SET-01", "D78", auth_id,
                f"{message} (the default deadline; pass --settle-timeout to make it a failure)",
                history.evidence[-1:],
            )
        )  # fmt: skip


def _since(rows: list[Row], baseline: Baseline | None) -> list[Row]:
    """The rows that came after the baseline (every row without one)."""
    if baseline is None:
        return rows
    return [r for r in rows if row_id(r) not in baseline.row_ids]


def _check_balance(
    client: ApiClient, result: ReconciliationResult, auth_id: str, token_id: int,
    history: UserHistory, baseline: Baseline | None,
) -> None:  # fmt: skip
    rows = _since(history.rows, baseline)
    book = ledger(rows, token_id)
    balance, balance_evidence = fetch_balance(client, auth_id, token_id)
    result.notes.extend(f"{auth_id}: ignored {item}" for item in book.ignored)
    if balance is None:
        result.discrepancies.append(
            Discrepancy(
                auth_id, f"the balance could not be read (HTTP {balance_evidence.status})", [balance_evidence]
            )
        )
        return
    if balance < 0:
        result.discrepancies.append(Discrepancy(auth_id, f"negative balance {balance}", [balance_evidence]))
        return
    start = Fraction(0) if baseline is None else baseline.balance
    if not history.settled or balance - start == book.expected:
        return
    sums = (
        f"credits {book.credits} - debits {book.debits} - burned {book.burned} + received {book.received}"
        f" = {book.expected}"
    )
    if baseline is None:
        message = f"balance {balance} != {sums} (from {len(rows)} history rows)"
    else:
        message = (
            f"balance moved by {balance - start} (from {start} when the run first touched the user to "
            f"{balance}), but the {len(rows)} history rows since say {sums}"
        )
    result.discrepancies.append(Discrepancy(auth_id, message, [balance_evidence, *history.evidence[-2:]]))


def reconcile_user(
    client: ApiClient,
    result: ReconciliationResult,
    auth_id: str,
    token_id: int,
    *,
    deadline: Deadline,
    baseline: Baseline | None = None,
    attempts: list[Attempt] | None = None,
) -> None:
    """Judge one user into ``result``: settlement, paging, balance, and (given the run's
    ``attempts``) every accepted move once."""
    history = read_settled_history(client, auth_id, deadline=deadline.for_user())
    result.users += 1
    result.rows += len(history.rows)
    if history.failed_status is not None:
        result.discrepancies.append(
            Discrepancy(
                auth_id,
                f"the history could not be read (HTTP {history.failed_status})",
                history.evidence[-1:],
            )
        )
        return
    if not history.settled:
        _unsettled(result, auth_id, history, deadline)
    _paging_findings(result, auth_id, history)
    if not history.whole:
        result.notes.append(f"{auth_id}: the history could not be read whole; its balance was not judged")
        return
    _check_balance(client, result, auth_id, token_id, history, baseline)
    if attempts is not None:
        evidence = history.evidence[-2:]
        for message in check_acceptances(attempts, _since(history.rows, baseline)):
            result.discrepancies.append(Discrepancy(auth_id, message, evidence))


def reconcile_users(
    client: ApiClient, auth_ids: Iterable[str], token_id: int, *, settle_timeout: float
) -> ReconciliationResult:
    """Each user's balance of ``token_id`` against its whole history (no ledger, no baseline);
    ``settle_timeout`` is the caller's own deadline, so anything still pending is a discrepancy."""
    result = ReconciliationResult()
    deadline = Deadline.after(settle_timeout, explicit=True)
    for auth_id in auth_ids:
        reconcile_user(client, result, auth_id, token_id, deadline=deadline)
    return result


def touched_users(contents: LedgerContents) -> list[str]:
    """Users with at least one money move, in first-touch order."""
    return list(dict.fromkeys(a.user for a in contents.attempts if a.kind in MONEY_KINDS))


def reconcile_run(
    client: ApiClient,
    contents: LedgerContents,
    token_id: int,
    *,
    settle_timeout: float,
    explicit_deadline: bool = False,
) -> ReconciliationResult:
    """Reconcile every touched user; one deadline for the whole run, not one per user."""
    result = ReconciliationResult(ledger=contents.counts())
    if contents.bad_lines:
        result.notes.append(f"{contents.bad_lines} unreadable ledger line(s) skipped")
    by_user = contents.by_user()
    deadline = Deadline.after(settle_timeout, explicit=explicit_deadline)
    try:
        for auth_id in touched_users(contents):
            baseline = contents.baselines.get(auth_id)
            if baseline is not None and baseline.token != token_id:
                baseline = None
            if baseline is None:
                result.notes.append(f"{auth_id}: no baseline; judged against its whole history")
            reconcile_user(
                client, result, auth_id, token_id,
                deadline=deadline, baseline=baseline, attempts=by_user.get(auth_id, []),
            )  # fmt: skip
    except KeyboardInterrupt:
        result.interrupted = True
        result.notes.append("reconciliation interrupted: the users after the first ones were not checked")
    return result
