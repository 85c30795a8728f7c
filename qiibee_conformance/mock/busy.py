"""busy-service: the rate limiting and the occasional 503 of a shared, busy sandbox.

Both are tolerated anywhere (429/503 with ``Retry-After``): a suite must wait and
retry, and must never count them as findings. The gate runs before routing, so a
refused request has no effect at all. O(1) per request: one bucket per API key
(refilled lazily from the elapsed time) and one counter.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# Tuned so a full certify run meets a few dozen 429s, not thousands (measured: 22 of ~1070
# requests, mostly in the parallel user creations of the concurrency checks).
BUCKET_CAPACITY = 50  # a burst of this many requests passes at once (the suite's 24-request races fit)
BUCKET_REFILL = 100.0  # requests per second, sustained, per API key
UNAVAILABLE_EVERY = 200  # every 200th admitted request answers 503
RETRY_AFTER = "1"  # seconds, sent with both 429 and 503

RATE_LIMITED = 429
UNAVAILABLE = 503


class BusyGate:
    """Token bucket per API key plus a deterministic 1-in-N 503."""

    def __init__(
        self,
        *,
        capacity: int = BUCKET_CAPACITY,
        refill: float = BUCKET_REFILL,
        unavailable_every: int = UNAVAILABLE_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = float(capacity)
        self.refill = refill
        self.unavailable_every = unavailable_every
        self.clock = clock
        self._buckets: dict[bytes, tuple[float, float]] = {}  # key -> (tokens left, at)
        self._admitted = 0

    def check(self, key: bytes) -> int | None:
        """None to serve the request, else the status to refuse it with (429 or 503)."""
        now = self.clock()
        tokens, at = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - at) * self.refill)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return RATE_LIMITED
        self._buckets[key] = (tokens - 1, now)
        self._admitted += 1
        if self._admitted % self.unavailable_every == 0:
            return UNAVAILABLE
        return None


MESSAGES = {
    RATE_LIMITED: f"Too many requests for this API key; retry after {RETRY_AFTER} second",
    UNAVAILABLE: f"Service temporarily unavailable; retry after {RETRY_AFTER} second",
}
