"""The ledger between a Locust worker and its master, through Locust's messages.

A worker's records go to the master in numbered batches (``MSG_LEDGER``). A batch goes out
as soon as it holds an *attempt*, before the request is sent: the master then knows of
every move a worker made, so a worker that dies mid-run leaves moves whose answer never
arrived, never moves nobody heard of. Results, baselines and findings wait for the next
attempt, for ``BATCH_MAX`` records, or for the first record written ``FLUSH_AFTER_S`` after
the oldest one waiting. When its users have stopped, the worker sends what is left and
then ``MSG_DONE`` with its totals, so that the master can tell a worker that handed over
everything from one that lost batches on the way.

The master appends each worker's records to a file of that worker in its ledger directory,
in the format of a single process's ledger file: the parent reads them all alike.
Runs inside Locust processes only (the master's and the workers').
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qiibee_conformance.loadtest.cluster_status import DONE, INCOMPLETE, MSG_DONE, MSG_LEDGER, WorkerStatus
from qiibee_conformance.loadtest.ledger import FileSink

BATCH_MAX = 200
FLUSH_AFTER_S = 0.5

Send = Callable[[str, dict[str, Any]], None]


class MessageSink:
    """Worker side: the ledger's sink, sending batches to the master."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._pending: list[dict[str, Any]] = []
        self._oldest = 0.0
        self.batches = 0
        self.records = 0

    def write(self, record: dict[str, Any]) -> None:
        if not self._pending:
            self._oldest = time.monotonic()
        self._pending.append(record)
        urgent = record.get("t") == "attempt" or len(self._pending) >= BATCH_MAX
        if urgent or time.monotonic() - self._oldest >= FLUSH_AFTER_S:
            self.flush()

    def flush(self) -> None:
        batch, self._pending = self._pending, []
        if batch:
            self.batches += 1
            self.records += len(batch)
            self._send(MSG_LEDGER, {"seq": self.batches, "records": batch})

    def finish(self) -> None:
        """Send what is left, then the totals (again after a later stop: the master keeps the last)."""
        self.flush()
        self._send(MSG_DONE, {"batches": self.batches, "records": self.records})

    def close(self) -> None:
        self.flush()


class LedgerReceiver:
    """Master side: each worker's batches to ``<dir>/worker-<id>.jsonl``, and its account."""

    def __init__(self, directory: Path | None, index_of: Callable[[str], int]) -> None:
        self.directory = directory
        self.index_of = index_of
        self.workers: dict[str, WorkerStatus] = {}
        self._sinks: dict[str, FileSink] = {}

    def worker(self, client_id: str) -> WorkerStatus:
        if client_id not in self.workers:
            self.workers[client_id] = WorkerStatus(id=client_id, index=self.index_of(client_id))
        return self.workers[client_id]

    def _sink(self, client_id: str) -> FileSink | None:
        if self.directory is None:
            return None
        if client_id not in self._sinks:
            self._sinks[client_id] = FileSink(self.directory, name=f"worker-{client_id}.jsonl")
        return self._sinks[client_id]

    def on_batch(self, msg: Any, **_kwargs: Any) -> None:
        """Listener of ``MSG_LEDGER`` (Locust passes ``environment`` and ``msg``)."""
        data = msg.data if isinstance(msg.data, dict) else {}
        records = [r for r in data.get("records") or [] if isinstance(r, dict)]
        worker = self.worker(msg.node_id)
        sink = self._sink(msg.node_id)
        for record in records:
            if sink is not None:
                sink.write(record)
        worker.batches += 1
        worker.records += len(records)

    def on_done(self, msg: Any, **_kwargs: Any) -> None:
        """Listener of ``MSG_DONE``: the worker's totals decide whether it handed over everything."""
        data = msg.data if isinstance(msg.data, dict) else {}
        worker = self.worker(msg.node_id)
        worker.sent_batches = int(data.get("batches") or 0)
        worker.sent_records = int(data.get("records") or 0)
        worker.state = DONE if worker.batches >= worker.sent_batches else INCOMPLETE

    def close(self) -> None:
        for sink in self._sinks.values():
            sink.close()
