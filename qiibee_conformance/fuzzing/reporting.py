"""The results of the worker processes as a pytest outcome, with what the reports need.

A worker's requests are not seen by this process's hooks, so what they did (how many
requests, which statuses, how long they took) is counted here, from the results.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from qiibee_conformance.fuzzing.parallel import Call, OperationResult

EVIDENCE = "evidence"
NOTES = "notes"

# What the certify runner counts each worker request with (its stats), set by whoever runs us.
Observer = Callable[[Call], None]
_OBSERVERS: list[Observer] = []


def observe_with(observer: Observer) -> None:
    """Be told of every request a worker made."""
    _OBSERVERS.append(observer)


def report_results(results: list[OperationResult], node: pytest.Item) -> None:
    """Pass, or fail naming every operation that failed; evidence and notes go to the properties."""
    __tracebackhide__ = True
    for result in results:
        for call in result.observed:
            for observer in _OBSERVERS:
                observer(call)
    notes = [r.note for r in results if r.note]
    if notes:
        node.user_properties.append((NOTES, json.dumps(notes)))
    failed = [r for r in results if r.failure is not None]
    if not failed:
        return
    node.user_properties.append((EVIDENCE, json.dumps([e.to_dict() for r in failed for e in r.evidence])))
    names = ", ".join(r.label for r in failed)
    text = "\n\n".join(f"{r.label}: {r.failure}" for r in failed)
    pytest.fail(f"{len(failed)} failed: {names}\n\n{text}", pytrace=False)
