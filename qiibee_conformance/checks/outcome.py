"""Running one check and reading what it concluded: verified, failed, advisory or untestable.

A check ends with a fail-level :class:`~qiibee_conformance.findings.Nonconformity`, or
:class:`~qiibee_conformance.findings.Untestable`, or nothing; along the way it may file
warn-level findings (advisories) without stopping. Those are collected by a recorder
bound to the running check through a context variable, so that the assertion helpers
need no extra argument and two checks running in parallel threads keep theirs apart.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from qiibee_conformance.findings import Finding, Level, Nonconformity, Untestable

if TYPE_CHECKING:
    from qiibee_conformance.checks.base import Check
    from qiibee_conformance.checks.context import CheckContext

T = TypeVar("T")
R = TypeVar("R")

VERIFIED, FAILED, ADVISORY, UNTESTABLE = "verified", "failed", "advisory", "untestable"


@dataclass
class _Recorder:
    requirement_id: str
    advisories: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, finding: Finding) -> None:
        with self.lock:
            self.advisories.append(finding)

    def note(self, text: str) -> None:
        with self.lock:
            self.notes.append(text)


_RECORDER: contextvars.ContextVar[_Recorder | None] = contextvars.ContextVar("qiibee_check", default=None)


def file_advisory(finding: Finding) -> None:
    """File a warn-level finding under the running check (see ``checks.base.advise``)."""
    recorder = _RECORDER.get()
    if recorder is None:
        raise RuntimeError("an advisory was filed outside a running check")
    recorder.add(finding)


def file_note(text: str) -> None:
    """Note what a check could not try (e.g. a direction it had no funds for), for the reports."""
    recorder = _RECORDER.get()
    if recorder is None:
        raise RuntimeError("a note was filed outside a running check")
    recorder.note(text)


def running_requirement() -> str | None:
    """The id of the check running in this context, if any."""
    recorder = _RECORDER.get()
    return recorder.requirement_id if recorder is not None else None


def map_in_threads(func: Callable[[T], R], items: Iterable[T], *, workers: int) -> list[R]:
    """``map`` over a thread pool whose threads see the running check (its advisories, its id)."""
    items = list(items)
    if not items:
        return []
    context = contextvars.copy_context()

    def call(item: T) -> R:
        return context.copy().run(func, item)

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items)))) as pool:
        return list(pool.map(call, items))


@dataclass(frozen=True)
class CheckOutcome:
    """What one check concluded, and how long it took.

    ``error`` is anything else the check raised (a :class:`~qiibee_conformance.errors.RunError`
    or a bug): the runner re-raises it, since it says nothing about the target.
    """

    requirement_id: str
    seconds: float
    failure: Finding | None = None
    advisories: tuple[Finding, ...] = ()
    untestable: str | None = None
    prerequisite: str | None = None
    error: BaseException | None = None
    notes: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        if self.failure is not None:
            return FAILED
        if self.advisories:
            return ADVISORY
        if self.untestable is not None:
            return UNTESTABLE
        return VERIFIED

    def findings(self) -> Iterator[Finding]:
        if self.failure is not None:
            yield self.failure
        yield from self.advisories


def run_check(check: Check, ctx: CheckContext) -> CheckOutcome:
    """Run ``check`` and fold what it raised and filed into one :class:`CheckOutcome`."""
    requirement = check.requirement
    recorder = _Recorder(requirement.id)
    token = _RECORDER.set(recorder)
    started = time.monotonic()
    failure: Finding | None = None
    untestable: str | None = None
    prerequisite: str | None = None
    error: BaseException | None = None
    try:
        check(ctx)
    except Nonconformity as err:
        failure = err.finding
    except Untestable as err:
        untestable, prerequisite = err.reason, err.prerequisite
    except Exception as err:  # handed to the runner, which re-raises it
        error = err
    finally:
        _RECORDER.reset(token)
    seconds = time.monotonic() - started
    advisories = [f.filed(requirement.id, Level.WARN, requirement.decision) for f in recorder.advisories]
    if failure is not None:
        failure = failure.filed(requirement.id, requirement.level, requirement.decision)
        if failure.level == Level.WARN:  # raised at warn level, or in a warn-level requirement
            advisories.append(failure)
            failure = None
    return CheckOutcome(
        requirement_id=requirement.id,
        seconds=seconds,
        failure=failure,
        advisories=tuple(advisories),
        untestable=untestable,
        prerequisite=prerequisite,
        error=error,
        notes=tuple(recorder.notes),
    )
