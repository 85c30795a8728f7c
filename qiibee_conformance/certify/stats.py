"""Request and generated-case counters shared by the checks, schemathesis hooks and the runner.

The runner runs pytest in-process, so plain module state is enough to carry the
totals from the hooks that see each request to the report that prints them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class RunStats:
    """Thread-safe totals for one pytest session."""

    client_requests: int = 0
    schema_calls: int = 0
    _case_ids: set[str] = field(default_factory=set, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add_client_requests(self, count: int) -> None:
        with self._lock:
            self.client_requests += count

    def add_schema_call(self, case_id: str | None) -> None:
        """One request sent by schemathesis; a case sent again (shrinking, retries) counts once."""
        with self._lock:
            self.schema_calls += 1
            self._case_ids.add(case_id or f"anonymous-{self.schema_calls}")

    @property
    def schema_cases(self) -> int:
        return len(self._case_ids)

    def reset(self) -> None:
        with self._lock:
            self.client_requests = self.schema_calls = 0
            self._case_ids.clear()

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


STATS = RunStats()
