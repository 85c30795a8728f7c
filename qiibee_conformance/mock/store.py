"""SQLite storage: users, memberships, balances and the transaction history.

One connection guarded by a re-entrant lock; every multi-step change runs inside
``transaction()`` (BEGIN IMMEDIATE ... COMMIT) so a balance check, its debit and
the history row are one atomic step. Transaction ids are dense integers (no
gaps, never deleted), so the unfiltered newest-first page is an index seek:
``WHERE id <= max_id - offset ORDER BY id DESC LIMIT n``. Every write to a
history row (insert, settlement, rollback) is reported to ``tx_changed`` so a
cache of rendered rows can drop exactly that row.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

FIRST_TX_ID = 1001

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    auth_id TEXT NOT NULL,
    email TEXT NOT NULL,
    email_lower TEXT NOT NULL,
    first_name TEXT, second_name TEXT, language TEXT, country_iso TEXT,
    metadata TEXT,
    created_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS users_auth_id ON users(auth_id);
CREATE INDEX IF NOT EXISTS users_email_lower ON users(email_lower);
CREATE INDEX IF NOT EXISTS users_created ON users(created_us);
CREATE TABLE IF NOT EXISTS memberships (
    user_pk INTEGER NOT NULL, provider TEXT NOT NULL, number TEXT NOT NULL,
    PRIMARY KEY (user_pk, provider)
);
CREATE TABLE IF NOT EXISTS balances (
    user_pk INTEGER NOT NULL, token_id INTEGER NOT NULL, balance INTEGER NOT NULL,
    PRIMARY KEY (user_pk, token_id)
);
CREATE TABLE IF NOT EXISTS transactions (
    id INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    user_pk INTEGER NOT NULL,
    token_id INTEGER NOT NULL,
    token_to_id INTEGER,
    amount INTEGER NOT NULL,
    amount_received TEXT,
    provider TEXT,
    membership_number TEXT,
    inserted_us INTEGER NOT NULL,
    settle_after REAL,
    debited INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS tx_user ON transactions(user_pk, id);
CREATE INDEX IF NOT EXISTS tx_type ON transactions(type, id);
CREATE INDEX IF NOT EXISTS tx_token ON transactions(token_id, id);
CREATE INDEX IF NOT EXISTS tx_token_to ON transactions(token_to_id, id);
CREATE INDEX IF NOT EXISTS tx_inserted ON transactions(inserted_us);
CREATE INDEX IF NOT EXISTS tx_pending ON transactions(settle_after) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS tx_pending_user ON transactions(user_pk, token_id) WHERE status = 'pending';
"""

USER_COLUMNS = (
    "pk, id, auth_id, email, first_name, second_name, language, country_iso, metadata, created_us"
)
TX_REF_COLUMNS = "id, status, user_pk"
TX_COLUMNS = (
    "id, type, status, user_pk, token_id, token_to_id, amount, amount_received, provider, "
    "membership_number, inserted_us, debited"
)
USER_FIELDS = ("email", "first_name", "second_name", "language", "country_iso", "metadata")


@dataclass(frozen=True)
class UserRow:
    """A stored user; ``metadata`` is JSON text or None."""

    pk: int
    id: str
    auth_id: str
    email: str
    first_name: str | None
    second_name: str | None
    language: str | None
    country_iso: str | None
    metadata: str | None
    created_us: int


@dataclass(frozen=True)
class TxRow:
    """A stored history row."""

    id: int
    type: str
    status: str
    user_pk: int
    token_id: int
    token_to_id: int | None
    amount: int
    amount_received: str | None
    provider: str | None
    membership_number: str | None
    inserted_us: int
    debited: int


TxRef = tuple[int, str, int]
"""(id, status, user_pk): enough to find a row's rendering in a cache and check it is current."""


@dataclass
class TxFilter:
    """History filters; None means not filtered."""

    user_pk: int | None = None
    types: Sequence[str] | None = None
    token_id: int | None = None
    token_matches_to: bool = False
    from_us: int | None = None
    from_exclusive: bool = False
    to_us: int | None = None

    def is_empty(self) -> bool:
        return (
            self.user_pk is None
            and self.types is None
            and self.token_id is None
            and self.from_us is None
            and self.to_us is None
        )


def now_us() -> int:
    """Wall clock in UTC microseconds."""
    return time.time_ns() // 1000


class Store:
    """All persistence; callers compose the primitives inside ``transaction()``."""

    def __init__(self, path: str | None) -> None:
        self.conn = sqlite3.connect(
            path or ":memory:", isolation_level=None, check_same_thread=False
        )
        self.lock = threading.RLock()
        if path:
            self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA temp_store=MEMORY")
        self.conn.executescript(SCHEMA)
        self._depth = 0
        self.tx_changed: Callable[[int], None] | None = None
        self._touched: list[int] = []  # history rows written by the open transaction
        row = self.conn.execute("SELECT MIN(id), MAX(id), MAX(inserted_us) FROM transactions").fetchone()
        self.min_tx_id: int = row[0] if row[0] is not None else FIRST_TX_ID
        self.next_tx_id: int = (row[1] + 1) if row[1] is not None else FIRST_TX_ID
        self._last_us: int = row[2] or 0
        urow = self.conn.execute("SELECT MAX(created_us) FROM users").fetchone()
        self._last_user_us: int = urow[0] or 0

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic step (nested calls join the outer one)."""
        with self.lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self.conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            self._touched.clear()
            try:
                yield
            except BaseException:
                self._depth = 0
                self.conn.execute("ROLLBACK")
                self._reload_counters()
                for tx_id in self._touched:  # a rolled-back id is reused by the next insert
                    self._changed(tx_id)
                raise
            self._depth = 0
            self.conn.execute("COMMIT")

    def _changed(self, tx_id: int) -> None:
        if self._depth:
            self._touched.append(tx_id)
        if self.tx_changed is not None:
            self.tx_changed(tx_id)

    def _reload_counters(self) -> None:
        row = self.conn.execute("SELECT MAX(id) FROM transactions").fetchone()
        self.next_tx_id = (row[0] + 1) if row[0] is not None else FIRST_TX_ID

    def is_fresh(self) -> bool:
        """No users and no history: seeding may run."""
        with self.lock:
            return self.conn.execute("SELECT 1 FROM users LIMIT 1").fetchone() is None

    # ---- users -------------------------------------------------------------

    def next_user_us(self) -> int:
        """Creation time, strictly increasing so newest-first is well defined."""
        t = max(now_us(), self._last_user_us + 1)
        self._last_user_us = t
        return t

    def user_by_auth_id(self, auth_id: str) -> UserRow | None:
        with self.lock:
            row = self.conn.execute(
                f"SELECT {USER_COLUMNS} FROM users WHERE auth_id = ? ORDER BY pk LIMIT 1", (auth_id,)
            ).fetchone()
        return UserRow(*row) if row else None

    def _rows_in(self, select: str, keys: Sequence[int]) -> list[tuple[Any, ...]]:
        """``select`` (ending in ``IN``) for ``keys``, in chunks under SQLite's variable limit."""
        rows: list[tuple[Any, ...]] = []
        with self.lock:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                rows += self.conn.execute(f"{select} ({','.join('?' * len(chunk))})", chunk).fetchall()
        return rows

    def users_by_pk(self, pks: Sequence[int]) -> dict[int, UserRow]:
        rows = self._rows_in(f"SELECT {USER_COLUMNS} FROM users WHERE pk IN", pks)
        return {row[0]: UserRow(*row) for row in rows}

    def email_taken(self, email: str) -> bool:
        with self.lock:
            return (
                self.conn.execute(
                    "SELECT 1 FROM users WHERE email_lower = ? LIMIT 1", (email.lower(),)
                ).fetchone()
                is not None
            )

    def insert_user(self, user_id: str, auth_id: str, fields: dict[str, Any]) -> UserRow:
        with self.transaction():
            created = self.next_user_us()
            cur = self.conn.execute(
                "INSERT INTO users (id, auth_id, email, email_lower, first_name, second_name, language,"
                " country_iso, metadata, created_us) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    user_id, auth_id, fields["email"], fields["email"].lower(),
                    fields.get("first_name"), fields.get("second_name"), fields.get("language"),
                    fields.get("country_iso"), fields.get("metadata"), created,
                ),
            )
            pk = int(cur.lastrowid or 0)
        return UserRow(
            pk, user_id, auth_id, fields["email"], fields.get("first_name"), fields.get("second_name"),
            fields.get("language"), fields.get("country_iso"), fields.get("metadata"), created,
        )

    def insert_users_bulk(self, rows: Sequence[tuple[str, str, dict[str, Any]]]) -> list[int]:
        """Seed many users in one transaction; returns their pks."""
        pks: list[int] = []
        with self.transaction():
            for user_id, auth_id, fields in rows:
                cur = self.conn.execute(
                    "INSERT INTO users (id, auth_id, email, email_lower, first_name, second_name,"
                    " language, country_iso, metadata, created_us) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        user_id, auth_id, fields["email"], fields["email"].lower(),
                        fields.get("first_name"), fields.get("second_name"), fields.get("language"),
                        fields.get("country_iso"), fields.get("metadata"), self.next_user_us(),
                    ),
                )
                pks.append(int(cur.lastrowid or 0))
        return pks

    def update_user(self, pk: int, changes: dict[str, Any]) -> None:
        """Apply the given columns (``auth_id`` and the USER_FIELDS) to one user."""
        if not changes:
            return
        cols = dict(changes)
        if "email" in cols:
            cols["email_lower"] = cols["email"].lower()
        assignments = ", ".join(f"{k} = ?" for k in cols)
        with self.transaction():
            self.conn.execute(f"UPDATE users SET {assignments} WHERE pk = ?", (*cols.values(), pk))

    def list_users(
        self,
        *,
        email_like: str | None,
        case_sensitive: bool,
        from_us: int | None,
        to_us: int | None,
        limit: int,
        offset: int,
        oldest_first: bool,
        by_email: bool = False,
        prefix_only: bool = False,
    ) -> tuple[list[UserRow], int]:
        """``prefix_only`` is the users-email-like-prefix-only fault: only emails starting with it."""
        where: list[str] = []
        args: list[Any] = []
        if email_like:
            found = "= 1" if prefix_only else "> 0"
            if case_sensitive:
                where.append(f"instr(email, ?) {found}")
                args.append(email_like)
            else:
                where.append(f"instr(email_lower, ?) {found}")
                args.append(email_like.lower())
        if from_us is not None:
            where.append("created_us >= ?")
            args.append(from_us)
        if to_us is not None:
            where.append("created_us <= ?")
            args.append(to_us)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        order = ("email_lower" if by_email else "pk") + (" ASC" if oldest_first else " DESC")
        with self.lock:
            total = self.conn.execute(f"SELECT COUNT(*) FROM users {clause}", args).fetchone()[0]
            rows = self.conn.execute(
                f"SELECT {USER_COLUMNS} FROM users {clause} ORDER BY {order} LIMIT ? OFFSET ?",
                (*args, limit, offset),
            ).fetchall()
        return [UserRow(*r) for r in rows], int(total)

    # ---- memberships -------------------------------------------------------

    def memberships(self, user_pk: int) -> list[tuple[str, str]]:
        with self.lock:
            return [
                (r[0], r[1])
                for r in self.conn.execute(
                    "SELECT provider, number FROM memberships WHERE user_pk = ? ORDER BY provider",
                    (user_pk,),
                )
            ]

    def membership(self, user_pk: int, provider: str) -> str | None:
        with self.lock:
            row = self.conn.execute(
                "SELECT number FROM memberships WHERE user_pk = ? AND provider = ?", (user_pk, provider)
            ).fetchone()
        return row[0] if row else None

    def put_membership(self, user_pk: int, provider: str, number: str, *, keep_first: bool) -> str:
        """Save (replace) the number; returns the number now stored."""
        verb = "INSERT OR IGNORE" if keep_first else "INSERT OR REPLACE"
        with self.transaction():
            self.conn.execute(
                f"{verb} INTO memberships (user_pk, provider, number) VALUES (?,?,?)",
                (user_pk, provider, number),
            )
            stored = self.membership(user_pk, provider)
        return stored or number

    def delete_membership(self, user_pk: int, provider: str) -> bool:
        with self.transaction():
            cur = self.conn.execute(
                "DELETE FROM memberships WHERE user_pk = ? AND provider = ?", (user_pk, provider)
            )
        return cur.rowcount > 0

    # ---- balances (call inside transaction() when combined) -----------------

    def balance(self, user_pk: int, token_id: int) -> int:
        with self.lock:
            row = self.conn.execute(
                "SELECT balance FROM balances WHERE user_pk = ? AND token_id = ?", (user_pk, token_id)
            ).fetchone()
        return int(row[0]) if row else 0

    def balances(self, user_pk: int) -> list[tuple[int, int]]:
        with self.lock:
            return [
                (int(r[0]), int(r[1]))
                for r in self.conn.execute(
                    "SELECT token_id, balance FROM balances WHERE user_pk = ? ORDER BY token_id",
                    (user_pk,),
                )
            ]

    def add_balance(self, user_pk: int, token_id: int, delta: int) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT INTO balances (user_pk, token_id, balance) VALUES (?,?,?) "
                "ON CONFLICT (user_pk, token_id) DO UPDATE SET balance = balance + excluded.balance",
                (user_pk, token_id, delta),
            )

    def set_balance(self, user_pk: int, token_id: int, value: int) -> None:
        """Blind write; only the race faults use it."""
        with self.transaction():
            self.conn.execute(
                "INSERT INTO balances (user_pk, token_id, balance) VALUES (?,?,?) "
                "ON CONFLICT (user_pk, token_id) DO UPDATE SET balance = excluded.balance",
                (user_pk, token_id, value),
            )

    # ---- transactions ------------------------------------------------------

    def _next_tx_us(self) -> int:
        t = max(now_us(), self._last_us)
        self._last_us = t
        return t

    def insert_tx(
        self,
        *,
        type: str,
        status: str,
        user_pk: int,
        token_id: int,
        token_to_id: int | None,
        amount: int,
        amount_received: str | None,
        provider: str | None = None,
        membership_number: str | None = None,
        settle_after: float | None = None,
        debited: bool = True,
    ) -> TxRow:
        """Append one history row with the next dense id."""
        with self.transaction():
            tx_id = self.next_tx_id
            inserted = self._next_tx_us()
            self.conn.execute(
                "INSERT INTO transactions (id, type, status, user_pk, token_id, token_to_id, amount,"
                " amount_received, provider, membership_number, inserted_us, settle_after, debited)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    tx_id, type, status, user_pk, token_id, token_to_id, amount, amount_received,
                    provider, membership_number, inserted, settle_after, int(debited),
                ),
            )
            self.next_tx_id = tx_id + 1
            self._changed(tx_id)
        return TxRow(
            tx_id, type, status, user_pk, token_id, token_to_id, amount, amount_received, provider,
            membership_number, inserted, int(debited),
        )

    def insert_tx_bulk(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Seed history fast: rows are (type, status, user_pk, token_id, token_to_id, amount,
        amount_received, provider, inserted_us); ids and times must ascend."""
        with self.transaction():
            first = self.next_tx_id
            self.conn.executemany(
                "INSERT INTO transactions (id, type, status, user_pk, token_id, token_to_id, amount,"
                " amount_received, provider, inserted_us) VALUES (?,?,?,?,?,?,?,?,?,?)",
                ((first + i, *row) for i, row in enumerate(rows)),
            )
            self.next_tx_id = first + len(rows)
            if rows:
                self._last_us = max(self._last_us, int(rows[-1][-1]))

    def due_pending(self, now: float, limit: int = 500) -> list[TxRow]:
        with self.lock:
            rows = self.conn.execute(
                f"SELECT {TX_COLUMNS} FROM transactions WHERE status = 'pending' AND settle_after <= ?"
                " ORDER BY settle_after LIMIT ?",
                (now, limit),
            ).fetchall()
        return [TxRow(*r) for r in rows]

    def finish_tx(self, tx_id: int, status: str, debited: bool) -> None:
        with self.transaction():
            self.conn.execute(
                "UPDATE transactions SET status = ?, debited = ?, settle_after = NULL WHERE id = ?",
                (status, int(debited), tx_id),
            )
            self._changed(tx_id)

    def reschedule_pending(self, latest: float) -> None:
        """After a restart, settle left-over pending rows no later than ``latest``."""
        with self.transaction():
            self.conn.execute(
                "UPDATE transactions SET settle_after = ? WHERE status = 'pending'"
                " AND (settle_after IS NULL OR settle_after > ?)",
                (latest, latest),
            )

    def pending_hold(self, user_pk: int, token_id: int) -> int:
        """Points promised by accepted, not yet debited exchanges (debit-at-settlement)."""
        with self.lock:
            row = self.conn.execute(
                "SELECT COALESCE(SUM(amount), 0) FROM transactions INDEXED BY tx_pending_user"
                " WHERE user_pk = ? AND token_id = ? AND status = 'pending' AND debited = 0",
                (user_pk, token_id),
            ).fetchone()
        return int(row[0])

    def tx_by_id(self, tx_id: int) -> TxRow | None:
        with self.lock:
            row = self.conn.execute(
                f"SELECT {TX_COLUMNS} FROM transactions WHERE id = ?", (tx_id,)
            ).fetchone()
        return TxRow(*row) if row else None

    def list_tx_refs(
        self, flt: TxFilter, *, limit: int, offset: int, oldest_first: bool, page_first: bool = False
    ) -> tuple[list[TxRef], int]:
        """One page of history plus the count of every matching row; only (id, status, user_pk)
        per row, a tenth of the cost of full rows, which the caller reads for cache misses only.

        ``page_first`` is the history-filtered-short-pages fault: LIMIT/OFFSET cut the
        user's rows (or all rows) first and the other filters thin that page afterwards."""
        rows, total = self._page(flt, limit, offset, oldest_first, page_first)
        return [(r[0], r[1], r[2]) for r in rows], total

    def unfiltered_ids(self, *, limit: int, offset: int, oldest_first: bool) -> tuple[range, int]:
        """The ids of an unfiltered page and the total, from the dense id range alone (no query)."""
        with self.lock:
            first, end = self.min_tx_id, self.next_tx_id
        total = end - first
        if offset >= total:
            return range(0), total
        if oldest_first:
            return range(first + offset, min(first + offset + limit, end)), total
        top = end - 1 - offset
        return range(top, max(top - limit, first - 1), -1), total

    def txs_by_id(self, ids: Sequence[int]) -> dict[int, TxRow]:
        """Full rows for the given ids (those that exist)."""
        rows = self._rows_in(f"SELECT {TX_COLUMNS} FROM transactions WHERE id IN", ids)
        return {row[0]: TxRow(*row) for row in rows}

    def _page(
        self, flt: TxFilter, limit: int, offset: int, oldest_first: bool, page_first: bool = False
    ) -> tuple[list[Any], int]:
        with self.lock:
            if flt.is_empty():
                return self._page_unfiltered(limit, offset, oldest_first)
            where: list[str] = []
            args: list[Any] = []
            if flt.user_pk is not None:
                where.append("user_pk = ?")
                args.append(flt.user_pk)
            n_user = len(where)
            if flt.types is not None:
                if not flt.types:
                    return [], 0
                where.append(f"type IN ({','.join('?' * len(flt.types))})")
                args.extend(flt.types)
            if flt.token_id is not None:
                if flt.token_matches_to:
                    where.append("(token_id = ? OR token_to_id = ?)")
                    args.extend((flt.token_id, flt.token_id))
                else:
                    where.append("token_id = ?")
                    args.append(flt.token_id)
            if flt.from_us is not None:
                where.append("inserted_us > ?" if flt.from_exclusive else "inserted_us >= ?")
                args.append(flt.from_us)
            if flt.to_us is not None:
                where.append("inserted_us <= ?")
                args.append(flt.to_us)
            clause = " AND ".join(where)
            total = self.conn.execute(f"SELECT COUNT(*) FROM transactions WHERE {clause}", args).fetchone()[0]
            order = "ASC" if oldest_first else "DESC"
            if page_first and len(where) > n_user:
                inner = f"WHERE {where[0]}" if n_user else ""
                rows = self.conn.execute(
                    f"SELECT {TX_REF_COLUMNS} FROM (SELECT * FROM transactions {inner}"
                    f" ORDER BY id {order} LIMIT ? OFFSET ?) WHERE {' AND '.join(where[n_user:])}"
                    f" ORDER BY id {order}",
                    (*args[:n_user], limit, offset, *args[n_user:]),
                ).fetchall()
                return rows, int(total)
            rows = self.conn.execute(
                f"SELECT {TX_REF_COLUMNS} FROM transactions WHERE {clause}"
                f" ORDER BY id {order} LIMIT ? OFFSET ?",
                (*args, limit, offset),
            ).fetchall()
        return rows, int(total)

    def _page_unfiltered(self, limit: int, offset: int, oldest_first: bool) -> tuple[list[Any], int]:
        """Dense ids turn OFFSET into an index seek, so deep pages cost what the first does."""
        total = self.next_tx_id - self.min_tx_id
        if offset >= total:
            return [], total
        if oldest_first:
            rows = self.conn.execute(
                f"SELECT {TX_REF_COLUMNS} FROM transactions WHERE id >= ? ORDER BY id ASC LIMIT ?",
                (self.min_tx_id + offset, limit),
            ).fetchall()
        else:
            rows = self.conn.execute(
                f"SELECT {TX_REF_COLUMNS} FROM transactions WHERE id <= ? ORDER BY id DESC LIMIT ?",
                (self.next_tx_id - 1 - offset, limit),
            ).fetchall()
        return rows, total
