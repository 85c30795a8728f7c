"""Stopping a run from outside its threads: Ctrl-C, or the run's own deadline (``--max-time``).

A run sends requests and waits (settlement, rate limits) from several threads. A signal
reaches only the main thread, and a deadline no thread watches by itself; so every wait
of the suite goes through :func:`wait`, and every request through :func:`check`, which
raise :class:`RunStoppedError` once the run is stopped. Waits end at once, requests are
never sent after the stop, and no thread outlives the run by more than one request.

Process-wide on purpose: one process runs one certification or one load run.
"""

from __future__ import annotations

import threading
import time

from qiibee_conformance.errors import RunError


class RunStoppedError(RunError):
    """The run was stopped (interrupted, or past its deadline): not a finding about the target."""


class _Control:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.lock = threading.Lock()
        self.reason: str | None = None
        self.deadline: float | None = None
        self.budget: float | None = None


_CONTROL = _Control()


def start(max_time: float | None) -> None:
    """Begin a run: no stop, and a deadline ``max_time`` seconds from now (None: none)."""
    with _CONTROL.lock:
        _CONTROL.event.clear()
        _CONTROL.reason = None
        _CONTROL.budget = max_time
        _CONTROL.deadline = None if max_time is None else time.monotonic() + max_time


def stop(reason: str) -> None:
    """Stop the run (the first reason given is the one reported)."""
    with _CONTROL.lock:
        if _CONTROL.reason is None:
            _CONTROL.reason = reason
        _CONTROL.event.set()


def _past_deadline() -> bool:
    deadline = _CONTROL.deadline
    if deadline is not None and time.monotonic() >= deadline:
        stop(f"the run reached its time limit (--max-time {_CONTROL.budget:g} s)")
        return True
    return False


def stopped() -> str | None:
    """Why the run was stopped, or None while it runs."""
    _past_deadline()
    return _CONTROL.reason if _CONTROL.event.is_set() else None


def check() -> None:
    """Raise RunStoppedError if the run was stopped."""
    reason = stopped()
    if reason is not None:
        raise RunStoppedError(reason)


def remaining() -> float | None:
    """Seconds left before the deadline (None: no deadline)."""
    deadline = _CONTROL.deadline
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def wait(seconds: float) -> None:
    """Sleep ``seconds``, ending early (with RunStoppedError) when the run is stopped."""
    left = remaining()
    _CONTROL.event.wait(seconds if left is None else min(seconds, left))
    check()
