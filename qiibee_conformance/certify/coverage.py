"""What a run exercised, for the ``coverage`` section of every report.

Per documented operation: the statuses it saw and the requirements that sent it; per
requirement: its status and the operations it reached. The contract suite's hooks record
every answered request (the checks' through the ApiClient's observer, schemathesis'
through its ``after_call`` hook) into :data:`COVERAGE`; the session folds the
observations into that section. Only methods, path templates, statuses and requirement
ids are kept: no value of a request.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from qiibee_conformance.certify import operations
from qiibee_conformance.evidence import Exchange

# A request on no documented path: its path may hold ids, so it is not kept.
UNDOCUMENTED_PATH = "(undocumented path)"
# Requests made outside any requirement's test (discovery, prerequisites).
SETUP = "(setup)"


@dataclass(frozen=True)
class Observation:
    """One kind of answered request: method, path template, status, and who sent it."""

    method: str
    path: str
    status: int
    requirement: str


class CoverageRecorder:
    """Thread-safe counts of observations for one run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[Observation] = Counter()
        self._base_url = ""

    def begin(self, base_url: str) -> None:
        """Start a run against ``base_url`` (its path is stripped from every request's)."""
        with self._lock:
            self._counts.clear()
            self._base_url = base_url

    def record(self, method: str, template: str | None, status: int | None, requirement: str | None) -> None:
        """One answered request on a path template (None: on no documented path)."""
        if status is None:
            return
        seen = Observation(method.upper(), template or UNDOCUMENTED_PATH, int(status), requirement or SETUP)
        with self._lock:
            self._counts[seen] += 1

    def record_exchange(self, exchange: Exchange, requirement: str | None) -> None:
        """One request of the checks' client, placed under its documented path template."""
        path = operations.path_of(exchange.url, self._base_url)
        self.record(exchange.method, operations.template_of(path), exchange.status, requirement)

    def observations(self) -> Counter[Observation]:
        with self._lock:
            return Counter(self._counts)


COVERAGE = CoverageRecorder()


def _operation_entry(operation: operations.Operation, seen: Counter[Observation]) -> dict[str, Any]:
    mine = {o: n for o, n in seen.items() if o.method == operation.method and o.path == operation.path}
    statuses: Counter[int] = Counter()
    for observation, count in mine.items():
        statuses[observation.status] += count
    covered = operation.seen(statuses)
    return {
        "operation": operation.label,
        "operation_id": operation.operation_id,
        "requests": sum(statuses.values()),
        "statuses": {str(s): statuses[s] for s in sorted(statuses)},
        "documented": list(operation.documented),
        "observed": [s for s in operation.documented if s in covered],
        "never_seen": [s for s in operation.documented if s not in covered],
        "undocumented": [str(s) for s in sorted(statuses) if operation.documents(s) is None],
        "requirements": sorted({o.requirement for o in mine if o.requirement != SETUP}),
    }


def _unmatched(seen: Counter[Observation]) -> list[dict[str, Any]]:
    """Requests on no documented operation (undocumented methods and paths), by method and path."""
    labels: dict[str, dict[str, Any]] = {}
    for observation, count in sorted(seen.items(), key=lambda item: (item[0].path, item[0].method)):
        if operations.find(observation.method, observation.path) is not None:
            continue
        label = f"{observation.method} {observation.path}"
        entry = labels.setdefault(label, {"request": label, "statuses": {}, "requirements": set()})
        key = str(observation.status)
        entry["statuses"][key] = entry["statuses"].get(key, 0) + count
        if observation.requirement != SETUP:
            entry["requirements"].add(observation.requirement)
    return [{**e, "requirements": sorted(e["requirements"])} for e in labels.values()]


def _requirement_entries(
    statuses: Iterable[tuple[str, str]], seen: Counter[Observation]
) -> list[dict[str, Any]]:
    reached: dict[str, set[str]] = {}
    for observation in seen:
        if operations.find(observation.method, observation.path) is not None:
            reached.setdefault(observation.requirement, set()).add(f"{observation.method} {observation.path}")
    order = [op.label for op in operations.documented_operations()]
    return [
        {"id": rid, "status": status, "operations": sorted(reached.get(rid, set()), key=order.index)}
        for rid, status in statuses
    ]


def summarize(seen: Counter[Observation], requirement_statuses: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The ``coverage`` section of the reports."""
    entries = [_operation_entry(op, seen) for op in operations.documented_operations()]
    return {
        "summary": {
            "operations": len(entries),
            "operations_exercised": sum(1 for e in entries if e["requests"]),
            "documented_statuses": sum(len(e["documented"]) for e in entries),
            "documented_statuses_observed": sum(len(e["observed"]) for e in entries),
            "undocumented_statuses": sum(len(e["undocumented"]) for e in entries),
        },
        "operations": entries,
        "unmatched": _unmatched(seen),
        "requirements": _requirement_entries(requirement_statuses, seen),
    }
