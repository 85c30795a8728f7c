"""What the load run asked for and what the target answered, money moves only.

Every credit, debit and exchange a Locust user sends is written *before* it is
sent (an attempt) and again when the answer arrives (a result), one JSON record
each. After the run the parent reads every ledger file and can tell an accepted
(202) request from a rejected one and from one whose answer never arrived (a
request still in flight when the run stopped may or may not have been applied by
the target).

Where the records go is a *sink*. A single Locust process appends them to a file
of its own (:class:`FileSink`, flushed line by line). A Locust worker (``--processes``
or ``--role worker``) sends them to its master in batches through Locust's messages
(``ledger_link``), and the master appends each worker's records to a file of that
worker: no volume is shared between machines, and the parent reads the files once
every Locust process has exited.

Besides moves, the ledger holds each user's *baseline*: its balance and the ids of its
history rows when the run first touched it, before its first move. A new user may start
with points and rows of its own (a sign-up bonus, DECISIONS D27): reconciliation judges the
change from the baseline, never an absolute balance.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol, TextIO

# Expectations of an attempt.
ACCEPT = "accept"  # must be 202
REJECT = "reject"  # must be 400 (the documents say so); ``rule`` names the requirement
EITHER = "either"  # 202 or 400 are both correct (e.g. a race for the last points)

_FULL_EVIDENCE_PER_RULE = 5


@dataclass
class Attempt:
    id: str
    kind: str
    user: str
    token: int
    amount: int
    to_token: int | None = None
    expect: str = ACCEPT
    rule: str | None = None
    status: int | None = None  # None: no answer recorded
    tx_id: str | None = None
    limited: bool = False  # answered with rate limiting (429, or 503 with Retry-After)

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def rate_limited(self) -> bool:
        """Refused for capacity: not accepted, and the target did nothing (D18)."""
        return self.limited and not self.accepted

    @property
    def rejected(self) -> bool:
        return self.status is not None and 400 <= self.status < 500 and not self.limited

    @property
    def unknown(self) -> bool:
        """No usable answer: the target may or may not have applied it."""
        return not (self.accepted or self.rejected or self.rate_limited)


@dataclass(frozen=True)
class Baseline:
    """A user's balance of one token and its history rows when the run first touched it."""

    user: str
    token: int
    balance: Fraction
    row_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Finding:
    """A rule the target broke during the load run (seen by a Locust user).

    With a ``decision`` it is a warn-level reading (that DECISIONS id): an advisory,
    reported without failing the run; without one, a fail-level rule: a contract finding."""

    rule: str
    message: str
    route: str = ""
    evidence: dict[str, Any] | None = None
    decision: str = ""

    @property
    def advisory(self) -> bool:
        return bool(self.decision)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "message": self.message,
            "route": self.route,
            "evidence": self.evidence,
            "decision": self.decision or None,
        }


@dataclass
class LedgerContents:
    attempts: list[Attempt] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    baselines: dict[str, Baseline] = field(default_factory=dict)
    files: int = 0
    bad_lines: int = 0

    def by_user(self) -> dict[str, list[Attempt]]:
        users: dict[str, list[Attempt]] = {}
        for attempt in self.attempts:
            users.setdefault(attempt.user, []).append(attempt)
        return users

    def counts(self) -> dict[str, int]:
        return {
            "attempts": len(self.attempts),
            "accepted": sum(a.accepted for a in self.attempts),
            "rejected": sum(a.rejected for a in self.attempts),
            "rate_limited": sum(a.rate_limited for a in self.attempts),
            "unanswered": sum(a.unknown for a in self.attempts),
            "users": len({a.user for a in self.attempts}),
        }


class Sink(Protocol):
    """Where ledger records go: a file, or the Locust master."""

    def write(self, record: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class FileSink:
    """Appends records to ``<dir>/<label>-<host>-<pid>.jsonl`` (or ``<dir>/<name>``), flushed
    line by line: a killed process leaves at most one torn last line."""

    def __init__(self, directory: Path, label: str = "locust", *, name: str | None = None) -> None:
        self.directory = directory
        self.label = label
        self.name = name
        self._file: TextIO | None = None
        self._pid = -1
        self._lock = threading.Lock()

    def _out(self) -> TextIO:
        # Opened lazily and re-opened after a fork, so each process has its own file.
        if self._file is None or self._pid != os.getpid():
            self.directory.mkdir(parents=True, exist_ok=True)
            self._pid = os.getpid()
            name = self.name or f"{self.label}-{socket.gethostname()}-{self._pid}.jsonl"
            self._file = (self.directory / name).open("a", encoding="utf-8")
        return self._file

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock:
            out = self._out()
            out.write(line)
            out.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class LedgerWriter:
    """Builds the ledger's records and hands them to a sink (by default a :class:`FileSink`
    in ``directory``)."""

    def __init__(
        self, directory: Path | None = None, label: str = "locust", *, sink: Sink | None = None
    ) -> None:
        if sink is None:
            if directory is None:
                raise ValueError("a ledger needs a directory or a sink")
            sink = FileSink(directory, label)
        self.sink = sink
        self._ids = itertools.count(1)
        self._rule_counts: Counter[str] = Counter()

    def _write(self, record: dict[str, Any]) -> None:
        self.sink.write(record)

    def attempt(
        self,
        kind: str,
        user: str,
        token: int,
        amount: int,
        *,
        to_token: int | None = None,
        expect: str = ACCEPT,
        rule: str | None = None,
    ) -> str:
        attempt_id = f"{socket.gethostname()}-{os.getpid()}-{next(self._ids)}"
        self._write(
            {
                "t": "attempt",
                "id": attempt_id,
                "kind": kind,
                "user": user,
                "token": token,
                "amount": amount,
                "to_token": to_token,
                "expect": expect,
                "rule": rule,
                "at": time.time(),
            }
        )
        return attempt_id

    def result(
        self, attempt_id: str, status: int | None, tx_id: str | None = None, *, rate_limited: bool = False
    ) -> None:
        record: dict[str, Any] = {"t": "result", "id": attempt_id, "status": status, "tx_id": tx_id}
        if rate_limited:
            record["limited"] = True
        self._write(record)

    def baseline(self, user: str, token: int, balance: Fraction, row_ids: Iterable[str]) -> None:
        """The user's state before the run's first move on it (see the module's docstring)."""
        self._write(
            {"t": "baseline", "user": user, "token": token, "balance": str(balance), "rows": sorted(row_ids)}
        )

    def finding(
        self,
        rule: str,
        message: str,
        *,
        route: str = "",
        evidence: dict[str, Any] | None = None,
        decision: str = "",
    ) -> None:
        self._rule_counts[rule] += 1
        keep = evidence if self._rule_counts[rule] <= _FULL_EVIDENCE_PER_RULE else None
        record = {"t": "finding", "rule": rule, "message": message, "route": route, "evidence": keep}
        if decision:
            record["decision"] = decision
        self._write(record)

    def close(self) -> None:
        self.sink.close()


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _as_fraction(value: object) -> Fraction | None:
    if not isinstance(value, str):
        return None
    try:
        return Fraction(value)
    except (ValueError, ZeroDivisionError):
        return None


def _attempt(record: dict[str, Any]) -> Attempt | None:
    token = _as_int(record.get("token"))
    amount = _as_int(record.get("amount"))
    if token is None or amount is None:
        return None
    return Attempt(
        id=str(record["id"]),
        kind=str(record.get("kind")),
        user=str(record.get("user")),
        token=token,
        amount=amount,
        to_token=_as_int(record.get("to_token")),
        expect=str(record.get("expect") or ACCEPT),
        rule=record.get("rule"),
    )


def _baseline(record: dict[str, Any]) -> Baseline | None:
    token = _as_int(record.get("token"))
    balance = _as_fraction(record.get("balance"))
    rows = record.get("rows")
    if token is None or balance is None or not isinstance(rows, list):
        return None
    return Baseline(str(record.get("user")), token, balance, frozenset(str(r) for r in rows))


def _finding(record: dict[str, Any]) -> Finding:
    evidence = record.get("evidence")
    return Finding(
        rule=str(record.get("rule")),
        message=str(record.get("message")),
        route=str(record.get("route") or ""),
        evidence=evidence if isinstance(evidence, dict) else None,
        decision=str(record.get("decision") or ""),
    )


def _records(path: Path, contents: LedgerContents) -> Iterable[dict[str, Any]]:
    """The JSON objects of one ledger file; anything else counts as a bad line."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                # A process killed mid-write leaves at most one torn last line.
                contents.bad_lines += 1
                continue
            if isinstance(record, dict):
                yield record
            else:
                contents.bad_lines += 1


def _take(record: dict[str, Any], contents: LedgerContents, attempts: dict[str, Attempt],
          results: dict[str, dict[str, Any]]) -> None:  # fmt: skip
    """File one record where it belongs; an unreadable attempt or baseline counts as a bad line."""
    kind = record.get("t")
    if kind == "result":
        results[str(record.get("id"))] = record
    elif kind == "finding":
        contents.findings.append(_finding(record))
    elif kind == "attempt" and (attempt := _attempt(record)) is not None:
        attempts[attempt.id] = attempt
    elif kind == "baseline" and (baseline := _baseline(record)) is not None:
        # The first touch counts: a later baseline of the same user is not one.
        contents.baselines.setdefault(baseline.user, baseline)
    else:
        contents.bad_lines += 1


def _answer(attempt: Attempt, result: dict[str, Any]) -> None:
    tx = result.get("tx_id")
    attempt.status = _as_int(result.get("status"))
    attempt.tx_id = None if tx is None else str(tx)
    attempt.limited = result.get("limited") is True


def read_ledger(directory: Path) -> LedgerContents:
    """Every record of every process in ``directory`` (missing directory: empty ledger)."""
    contents = LedgerContents()
    attempts: dict[str, Attempt] = {}
    results: dict[str, dict[str, Any]] = {}
    if not directory.is_dir():
        return contents
    for path in sorted(directory.glob("*.jsonl")):
        contents.files += 1
        for record in _records(path, contents):
            _take(record, contents, attempts, results)
    for attempt_id, attempt in attempts.items():
        if attempt_id in results:
            _answer(attempt, results[attempt_id])
    contents.attempts = list(attempts.values())
    return contents
