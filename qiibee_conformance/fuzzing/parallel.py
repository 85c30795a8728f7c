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

# Operations fuzzed at once: enough to hide a sandbox's round trips behind each other.
DEFAULT_WORKERS = 4
_EVIDENCE_KEPT = 6
_PRELOAD = ["qiibee_conformance.fuzzing.parallel", "schemathesis", "hypothesis", "requests"]


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


def _calls_of(result: OperationResult, calls: list[Any], *, failed: bool) -> OperationResult:
    from qiibee_conformance.fuzzing.evidence import exchange_of

    if failed:
        result.evidence = [exchange_of(response) for _, response in calls[-_EVIDENCE_KEPT:]]
    result.calls = len(calls)
    result.observed = [
        Call(str(getattr(case, "id", None) or id(case)), str(case.operation.method).upper(),
             str(case.operation.path), int(response.status_code), float(response.elapsed) * 1000)
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
        return _calls_of(result, calls, failed=True)
    return _calls_of(result, calls, failed=False)


_POOLS: dict[str, ProcessPoolExecutor] = {}
_POOL_LOCK = threading.Lock()


def start_pool(workers: int = DEFAULT_WORKERS) -> ProcessPoolExecutor:
    """The process's pool of fuzzing workers (its fork server started now, if it was not yet;
    the first call's size stays)."""
    with _POOL_LOCK:
        if "pool" not in _POOLS:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(_PRELOAD)
            pool = _POOLS["pool"] = ProcessPoolExecutor(max_workers=workers, mp_context=context)
            atexit.register(pool.shutdown, wait=False, cancel_futures=True)
        return _POOLS["pool"]


def workers_for(round_trip_ms: float) -> int:
    """How many operations to fuzz at once: enough to hide the round trips of a distant target,
    few on a near one, where generation (CPU) is what takes the time."""
    if round_trip_ms < 20:
        return 4
    return 16


class FuzzAhead:
    """The run's property tests and state machine, started at once on the worker processes;
    each contract test then collects the results of its mode."""

    def __init__(self, settings: Settings, labels: dict[Mode, list[str]], *, workers: int) -> None:
        pool = start_pool(workers)
        left = run_control.remaining()
        # The state machine first: its scenarios are one long chain of calls, the longest task.
        order = sorted(labels, key=lambda mode: mode != "stateful")
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
        for futures in self._futures.values():
            for future in futures:
                future.cancel()


def fuzz_operations(settings: Settings, mode: Mode, labels: Iterable[str]) -> list[OperationResult]:
    """Run the property tests of the operations ``labels`` in ``mode``, side by side, and wait."""
    return FuzzAhead(settings, {mode: list(labels)}, workers=DEFAULT_WORKERS).results(mode)
