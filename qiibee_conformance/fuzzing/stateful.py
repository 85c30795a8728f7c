"""schemathesis' state machine over the spec's links, bounded, with replays judged fairly (SCH-03)."""

from __future__ import annotations

import warnings
from typing import Any

import hypothesis
import requests
from schemathesis.core.failures import FailureGroup

from qiibee_conformance.discovery import Catalogue
from qiibee_conformance.fuzzing.config import SEED, STATEFUL_MAX_STEPS
from qiibee_conformance.redact import Redactor
from qiibee_conformance.settings import Settings


def _failure_in(exc: BaseException) -> FailureGroup | None:
    if isinstance(exc, FailureGroup):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _failure_in(inner)
            if found is not None:
                return found
    return None


def _is_replay_divergence(exc: BaseException) -> bool:
    if isinstance(exc, hypothesis.errors.Flaky):
        return True
    # Hypothesis asserts (rather than raising Flaky) when a replay draws past a value it rejected before.
    traceback = exc.__traceback__
    while traceback is not None and traceback.tb_next is not None:
        traceback = traceback.tb_next
    return (
        isinstance(exc, AssertionError)
        and traceback is not None
        and traceback.tb_frame.f_globals.get("__name__") == "hypothesis.internal.conjecture.datatree"
    )


def run_state_machine(machine: Any, settings: hypothesis.settings) -> str | None:
    """Run the scenarios; a check failure raises, a replay that diverged returns a note.

    A stateful target answers a replayed scenario differently when its state has
    moved on; Hypothesis then stops with ``Flaky``. That says nothing about the
    contract, so, as schemathesis' own runner does, it is a failure only if a
    check failed on the way.
    """
    __tracebackhide__ = True
    try:
        machine.run(settings=settings)
    except FailureGroup:
        raise
    except (hypothesis.errors.Flaky, AssertionError) as exc:
        failure = _failure_in(exc)
        if failure is not None:
            raise failure from None
        if not _is_replay_divergence(exc):
            raise
        kind = type(exc).__name__
        return f"the stateful run stopped early: the target answered a replayed scenario differently ({kind})"
    return None


def drop_unproducible_inputs(schema: Any) -> bool:
    """Drop guessed inputs that name a resource no operation produces; whether it could.

    schemathesis guesses resource dependencies from field names and reads the create body's
    ``auth_id`` as a reference to an "Auth" resource that nothing produces, so it would never
    start a scenario with POST /users and the documented chains (user → membership → delete,
    user → credit → exchange) would never run. This reaches into schemathesis' dependency
    graph, which is not public API: ``tests/test_fuzzing.py`` fails when an upgrade changes
    its shape, and at run time the state machine then keeps schemathesis' own choice.
    """
    graph = getattr(getattr(schema, "analysis", None), "dependency_graph", None)
    operations = getattr(graph, "operations", None)
    if not isinstance(operations, dict):
        return False
    try:
        produced = {out.resource.name for node in operations.values() for out in node.outputs}
        for node in operations.values():
            node.inputs = [slot for slot in node.inputs if slot.resource.name in produced]
    except AttributeError:
        return False
    return True


def build_state_machine(schema: Any) -> Any:
    """``schema.as_state_machine()``, with POST /users allowed to start a scenario."""
    if not drop_unproducible_inputs(schema):
        warnings.warn(
            "schemathesis' dependency graph changed shape: stateful scenarios may never start with "
            "POST /users (update qiibee_conformance/fuzzing/stateful.py)",
            stacklevel=2,
        )
    return schema.as_state_machine()


# Scenarios per run: each is up to STATEFUL_MAX_STEPS calls.
MAX_SCENARIOS = 15
# The scenarios are split into parts, each from a seed of its own, that run side by side: a
# scenario is a chain of calls, and against a distant target one chain of them all is the
# longest wait of the run. The split is the same whatever the target, so is what is tested.
PARTS = 3


def run_stateful(
    settings: Settings, catalogue: Catalogue, session: requests.Session, *, part: int = 0
) -> str | None:
    """SCH-03: part ``part`` (of PARTS) of the state machine over the spec's links.

    Raises the (redacted) FailureGroup of a check that failed on the way; returns a note when
    a replayed scenario diverged (which says nothing about the contract)."""
    __tracebackhide__ = True
    from qiibee_conformance.fuzzing.failures import redacted_failures
    from qiibee_conformance.fuzzing.loader import load_schema

    schema = load_schema(settings, "stateful", catalogue=catalogue)
    redactor = Redactor([settings.api_key])
    base: Any = build_state_machine(schema)

    @hypothesis.seed(SEED + part)
    class LinkedCalls(base):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"session": session}

        def validate_response(self, response: Any, case: Any, *args: Any, **kwargs: Any) -> None:
            __tracebackhide__ = True
            with redacted_failures(redactor):
                super().validate_response(response, case, *args, **kwargs)

    scenarios = max(1, min(settings.max_examples, MAX_SCENARIOS))
    return run_state_machine(
        LinkedCalls,
        hypothesis.settings(
            max_examples=max(1, -(-scenarios // PARTS)),
            stateful_step_count=STATEFUL_MAX_STEPS,
            deadline=None,
            derandomize=True,
            database=None,
            print_blob=False,
            suppress_health_check=list(hypothesis.HealthCheck),
        ),
    )
