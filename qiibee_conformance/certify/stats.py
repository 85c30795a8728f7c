"""Request and generated-case counters, and request times, of one run.

They are shared by the checks, the schemathesis hooks and the runner. The runner runs
pytest in-process, so plain module state is enough to carry the totals from the hooks
that see each request to the report that prints them.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

# Who sent a request: the business checks (through the ApiClient) or schemathesis.
CHECKS, SCHEMATHESIS = "checks", "schemathesis"


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (0.5 the median); 0.0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def latency_figures(times_ms: Sequence[float]) -> dict[str, float | int]:
    """Count, p50, p95 and max of request times in milliseconds, rounded to 0.1 ms."""
    return {
        "requests": len(times_ms),
        "p50_ms": round(percentile(times_ms, 0.50), 1),
        "p95_ms": round(percentile(times_ms, 0.95), 1),
        "max_ms": round(max(times_ms, default=0.0), 1),
    }


@dataclass
class RunStats:
    """Thread-safe totals for one pytest session."""

    client_requests: int = 0
    schema_calls: int = 0
    _case_ids: set[str] = field(default_factory=set, repr=False)
    _times_ms: dict[str, list[float]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add_client_requests(self, count: int) -> None:
        with self._lock:
            self.client_requests += count

    def add_schema_call(self, case_id: str | None) -> None:
        """One request sent by schemathesis; a case sent again (shrinking, retries) counts once."""
        with self._lock:
            self.schema_calls += 1
            self._case_ids.add(case_id or f"anonymous-{self.schema_calls}")

    def add_request_time(self, source: str, elapsed_ms: float) -> None:
        """How long one answered request took; ``source`` is CHECKS or SCHEMATHESIS."""
        with self._lock:
            self._times_ms.setdefault(source, []).append(float(elapsed_ms))

    @property
    def schema_cases(self) -> int:
        return len(self._case_ids)

    def reset(self) -> None:
        with self._lock:
            self.client_requests = self.schema_calls = 0
            self._case_ids.clear()
            self._times_ms.clear()

    @property
    def total_requests(self) -> int:
        return self.client_requests + self.schema_calls

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return {
                "check_requests": self.client_requests,
                "schemathesis_requests": self.schema_calls,
                "schemathesis_cases": len(self._case_ids),
                "total_requests": self.client_requests + self.schema_calls,
            }

    def latency(self) -> dict[str, dict[str, float | int]]:
        """Request-time figures per source and for all requests together (``all``)."""
        with self._lock:
            times = {source: list(values) for source, values in self._times_ms.items()}
        figures = {source: latency_figures(times.get(source, [])) for source in (CHECKS, SCHEMATHESIS)}
        figures["all"] = latency_figures([t for values in times.values() for t in values])
        return figures


STATS = RunStats()
