"""Every operation's property test at once: a distant target's round trips overlap.

schemathesis' pytest integration makes one Hypothesis test per operation and pytest runs
them one after the other, so against a sandbox 100 ms away each of a thousand cases waits
its round trip in turn. Here the same tests, built the way that integration builds them
(its phases, seeds and settings from the schema's configuration), run side by side, one
operation per worker process: a test's own cases stay in order, the operations overlap, and
generation uses every core.

Processes, not threads: Hypothesis describes strategies by parsing their lambdas' source,
and CPython 3.11's parser is not safe to run from two threads at once ("AST constructor
recursion depth mismatch"). The workers come from a fork server started before any of the
run's threads, with schemathesis already imported, so they start in milliseconds and never
inherit a lock some thread held.

Reaching the per-operation test builder is not schemathesis' public API;
``tests/test_fuzzing.py`` fails when an upgrade moves or changes it.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER

from qiibee_conformance import run_control
from qiibee_conformance.evidence import Exchange
from qiibee_conformance.fuzzing.config import Mode
from qiibee_conformance.fuzzing.stateful import PARTS
from qiibee_conformance.redact import Redactor
from qiibee_conformance.settings import Settings
from qiibee_conformance.transport import is_distant

# Tasks run at once against a near target, and at most against a distant one (workers_for).
DEFAULT_WORKERS = 4
MAX_WORKERS = 24
# A worker's memory is mostly shared with the fork server; what it adds, with room to spare.
MEMORY_PER_WORKER_MB = 256
_EVIDENCE_KEPT = 6
_PRELOAD = ["qiibee_conformance.fuzzing.parallel", "qiibee_conformance.fuzzing.warmup"]


_LONGEST_FIRST: list[Mode] = ["stateful", "negative", "positive"]
# The state machine's parts (fuzzing.stateful.PARTS), each a task of its own.
STATEFUL_LABELS = tuple(f"stateful sequences, part {n} of {PARTS}" for n in range(1, PARTS + 1))


@dataclass(frozen=True)
class FuzzTask:
    """One operation's property test (or, in "stateful" mode, the state machine), as a worker
    process is asked to run it."""

    settings: Settings
    mode: Mode
    label: str
    time_left: float | None


class Call(NamedTuple):
    """One request a worker sent: its case (a case sent again, when shrinking, keeps its id),
    the operation, the status it got and how long it took."""

    case_id: str
    method: str
    path: str
    status: int
    elapsed_ms: float


@dataclass
class OperationResult:
    """What one operation's property test did: its failure (already redacted), the requests it
    sent and what each got, and its last exchanges when it failed."""

    label: str
    failure: str | None = None
    note: str | None = None
    calls: int = 0
    cases: int = 0
    observed: list[Call] = field(default_factory=list)
    evidence: list[Exchange] = field(default_factory=list)


# In a worker: the schema and session of the run it serves (a worker serves one run).
_WORKER: dict[str, Any] = {}


def _worker_schema(task: FuzzTask) -> tuple[Any, list[Any]]:
    from qiibee_conformance.fuzzing.loader import load_schema

    key = (task.settings.base, task.settings.run_id, task.mode)
    if _WORKER.get("key") != key:
        calls: list[Any] = []
        schema = load_schema(task.settings, task.mode)

        def _record(context: Any, case: Any, response: Any) -> None:
            calls.append((case, response))

        schema.hook("after_call")(_record)

        _WORKER.update(key=key, schema=schema, calls=calls)
    return _WORKER["schema"], _WORKER["calls"]


def _session(task: FuzzTask) -> Any:
    from qiibee_conformance.fuzzing.session import http_session

    if "session" not in _WORKER:
        _WORKER["session"] = http_session(task.settings.limits)
    return _WORKER["session"]


def _calls_of(task: FuzzTask, result: OperationResult, calls: list[Any], *, failed: bool) -> OperationResult:
    from qiibee_conformance.fuzzing.evidence import exchange_of

    if failed:
        result.evidence = [exchange_of(response) for _, response in calls[-_EVIDENCE_KEPT:]]
    result.calls = len(calls)
    # schemathesis numbers cases per process from the run's seed: the same ids come up in every
    # worker, so a case is known by its task too.
    result.observed = [
        Call(f"{task.mode} {task.label} {getattr(case, 'id', None) or id(case)}",
             str(case.operation.method).upper(), str(case.operation.path), int(response.status_code),
             float(response.elapsed) * 1000)
        for case, response in calls
    ]  # fmt: skip
    result.cases = len({call.case_id for call in result.observed})
    return result


def _run_property_test(task: FuzzTask, result: OperationResult) -> list[Any]:
    from schemathesis.core.result import Ok
    from schemathesis.generation.feedback import FeedbackSources
    from schemathesis.pytest._test_builder import build_operation_test
    from schemathesis.python._constants.orchestrator import make_constants_value_source

    from qiibee_conformance.fuzzing.session import call_and_validate

    schema, calls = _worker_schema(task)
    calls.clear()
    operation = next(
        r.ok() for r in schema.get_all_operations() if isinstance(r, Ok) and r.ok().label == task.label
    )
    redactor = Redactor([task.settings.api_key])
    session = _session(task)
    feedback = FeedbackSources(constants_value_source=make_constants_value_source(schema))

    def test_func(case: Any) -> None:
        call_and_validate(case, redactor, session)

    build_operation_test(
        config=schema.config, operation=operation, test_func=test_func, given_kwargs={}, feedback=feedback
    )()
    return calls


def _run_stateful(task: FuzzTask, result: OperationResult) -> list[Any]:
    from qiibee_conformance.client import ApiClient
    from qiibee_conformance.discovery import discover
    from qiibee_conformance.fuzzing.stateful import run_stateful

    client = ApiClient(task.settings.base, task.settings.api_key, limits=task.settings.limits)
    try:
        catalogue = discover(client, task.settings)
    finally:
        client.close()
    calls: list[Any] = []

    def after_call(context: Any, case: Any, response: Any) -> None:
        calls.append((case, response))

    GLOBAL_HOOK_DISPATCHER.register_hook_with_name(after_call, "after_call")
    try:
        part = STATEFUL_LABELS.index(task.label)
        result.note = run_stateful(task.settings, catalogue, _session(task), part=part)
    finally:
        GLOBAL_HOOK_DISPATCHER.unregister(after_call)
    return calls


def run_task(task: FuzzTask) -> OperationResult:
    """In a worker: run one task and say what happened (never raises for a finding)."""
    run_control.start(task.time_left)
    result = OperationResult(task.label)
    calls: list[Any] = []
    redactor = Redactor([task.settings.api_key])
    try:
        runner = _run_stateful if task.mode == "stateful" else _run_property_test
        calls = runner(task, result)
    except (Exception, BaseExceptionGroup) as error:  # schemathesis' FailureGroup is a BaseExceptionGroup
        calls = _WORKER.get("calls", []) if task.mode != "stateful" else calls
        result.failure = redactor.text(f"{type(error).__name__}: {error}")
        return _calls_of(task, result, calls, failed=True)
    return _calls_of(task, result, calls, failed=False)


_POOLS: dict[str, ProcessPoolExecutor] = {}
_POOL_LOCK = threading.Lock()


def _ignore_ctrl_c() -> None:
    # A terminal's Ctrl-C reaches the whole process group: the run stops its workers itself
    # (stop_pool), and a worker that took the SIGINT mid-test would report half a test.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def start_pool(workers: int = DEFAULT_WORKERS) -> ProcessPoolExecutor:
    """The process's pool of fuzzing workers (its fork server started now, if it was not yet;
    the first call's size stays)."""
    with _POOL_LOCK:
        if "pool" not in _POOLS:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(_PRELOAD)
            pool = _POOLS["pool"] = ProcessPoolExecutor(
                max_workers=workers, mp_context=context, initializer=_ignore_ctrl_c
            )
            atexit.register(pool.shutdown, wait=False, cancel_futures=True)
        return _POOLS["pool"]


def stop_pool() -> None:
    """End the workers now, mid-test: a stopped run sends no request after it has ended."""
    with _POOL_LOCK:
        pool = _POOLS.pop("pool", None)
    if pool is None:
        return
    # ProcessPoolExecutor has no public way to end running tasks (Python 3.14 adds one);
    # its processes are read before shutdown() lets go of them.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()


def workers_for(round_trip_ms: float, tasks: int) -> int:
    """How many tasks to run at once.

    Near a target (transport.is_distant) generation is what takes the time: a few
    workers keep the cores busy. Against a distant one every case waits its round trip, so
    every task runs at once (a sandbox 100 ms away: about 2x the time of a near run, where one
    task at a time would take 20x), as far as memory allows: a worker per 256 MB of the
    machine's memory (each uses about 60 MB of its own).
    """
    if not is_distant(round_trip_ms):
        return DEFAULT_WORKERS
    memory_mb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
    return max(DEFAULT_WORKERS, min(tasks, MAX_WORKERS, memory_mb // MEMORY_PER_WORKER_MB))


class FuzzAhead:
    """The run's property tests and state machine, started at once on the worker processes;
    each contract test then collects the results of its mode."""

    def __init__(self, settings: Settings, labels: dict[Mode, list[str]], *, workers: int) -> None:
        pool = start_pool(workers)
        left = run_control.remaining()
        # Longest first, so that no long task starts last: the state machine's parts (chains of
        # calls), then the negative tests (each case costs more to generate), then the positive.
        order = sorted(labels, key=_LONGEST_FIRST.index)
        self._futures: dict[Mode, list[Future[OperationResult]]] = {
            mode: [pool.submit(run_task, FuzzTask(settings, mode, label, left)) for label in labels[mode]]
            for mode in order
        }

    def results(self, mode: Mode) -> list[OperationResult]:
        """The results of ``mode``, in the order asked (waits for them); RunStoppedError once the
        run is stopped."""
        results = [future.result() for future in self._futures.get(mode, [])]
        run_control.check()
        return results

    def cancel(self) -> None:
        """Drop what has not started; once the run is stopped, end what is running too."""
        for futures in self._futures.values():
            for future in futures:
                future.cancel()
        if run_control.stopped():
            stop_pool()


def fuzz_operations(settings: Settings, mode: Mode, labels: Iterable[str]) -> list[OperationResult]:
    """Run the property tests of the operations ``labels`` in ``mode``, side by side, and wait."""
    return FuzzAhead(settings, {mode: list(labels)}, workers=DEFAULT_WORKERS).results(mode)
