"""Waiting for the target to catch up: one poll with backoff for every wait of the suite.

The documents give no settlement or indexing time, so every wait polls with a growing
delay (from 50 ms to 1 s) against a deadline, and says whether the condition came true.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from qiibee_conformance import run_control

FIRST_DELAY = 0.05
MAX_DELAY = 1.0


def poll(
    done: Callable[[], bool],
    timeout: float,
    *,
    first_delay: float = FIRST_DELAY,
    max_delay: float = MAX_DELAY,
    sleep: Callable[[float], None] = run_control.wait,
) -> bool:
    """Call ``done`` until it is true (True) or ``timeout`` seconds have passed (False).

    ``done`` is always called at least once, and once more at the deadline. The waits end
    early, raising RunStoppedError, when the run is stopped (Ctrl-C, ``--max-time``)."""
    deadline = time.monotonic() + timeout
    delay = first_delay
    while True:
        if done():
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        sleep(min(delay, remaining))
        delay = min(delay * 1.5, max_delay)
