"""What the Locust master knows of its workers at the end of a run, as a file the parent reads.

The master (``cluster.py``, inside Locust) writes ``workers.json`` to the ledger directory
when it quits; ``qiibee-conformance load`` reads it to say whether the run was *degraded*:
a worker that connected and then died, or that stopped without handing over its whole ledger.
Kept free of Locust imports: the parent process reads it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATUS_FILE = "workers.json"

# Locust custom message types (runner.send_message / register_message).
MSG_PLAN_REQUEST = "qiibee_plan_request"  # worker -> master, once its handlers are in place
MSG_PLAN = "qiibee_plan"  # master -> worker: the run's plan (or None: build your own)
MSG_LEDGER = "qiibee_ledger"  # worker -> master: a batch of ledger records
MSG_DONE = "qiibee_ledger_done"  # worker -> master: every batch sent, with the totals
MSG_STOP = "qiibee_stop"  # master -> worker: stop your users and hand over your ledger

DONE = "done"  # handed over its whole ledger
LOST = "lost"  # died or vanished before handing it over (its in-flight moves are unanswered)
INCOMPLETE = "incomplete"  # said it was done, but batches it sent never arrived


@dataclass
class WorkerStatus:
    """One worker as its master saw it."""

    id: str
    index: int
    state: str = LOST
    batches: int = 0  # ledger batches received
    records: int = 0  # ledger records received
    sent_batches: int | None = None  # as the worker counted them in its last message
    sent_records: int | None = None

    @property
    def missing_batches(self) -> int:
        return max(0, (self.sent_batches or 0) - self.batches)

    def describe(self) -> str:
        if self.state == DONE:
            return f"worker {self.index} ({self.id}): handed over {self.records} ledger records"
        if self.state == INCOMPLETE:
            return (
                f"worker {self.index} ({self.id}): {self.missing_batches} of its {self.sent_batches} "
                "ledger batches never arrived"
            )
        return (
            f"worker {self.index} ({self.id}) was lost mid-run: its moves still in flight are judged "
            f"as answers that never arrived ({self.records} ledger records received)"
        )


@dataclass
class ClusterStatus:
    """Every worker the master saw, and how many it was asked to wait for."""

    expected: int
    workers: list[WorkerStatus] = field(default_factory=list)

    @property
    def lost(self) -> list[WorkerStatus]:
        return [w for w in self.workers if w.state != DONE]

    @property
    def degraded(self) -> bool:
        return bool(self.lost)

    def notes(self) -> list[str]:
        return [w.describe() for w in self.lost]

    def to_dict(self) -> dict[str, Any]:
        return {
            "expected_workers": self.expected,
            "degraded": self.degraded,
            "workers": [asdict(w) for w in sorted(self.workers, key=lambda w: w.index)],
        }


def write_status(directory: Path, status: ClusterStatus) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / STATUS_FILE).write_text(json.dumps(status.to_dict(), indent=2), encoding="utf-8")


def _worker(raw: dict[str, Any]) -> WorkerStatus:
    known = {k: raw[k] for k in WorkerStatus.__dataclass_fields__ if k in raw}
    return WorkerStatus(**known)


def read_status(directory: Path) -> ClusterStatus | None:
    """The master's account of its workers; None when no master wrote one (a single process)."""
    try:
        raw = json.loads((directory / STATUS_FILE).read_text(encoding="utf-8"))
        workers = [_worker(w) for w in raw.get("workers", []) if isinstance(w, dict)]
        return ClusterStatus(int(raw.get("expected_workers") or 0), workers)
    except (OSError, ValueError, TypeError, AttributeError):
        return None
