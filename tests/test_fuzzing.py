"""Guards on what the fuzzing package takes from schemathesis beyond its public API.

Each of these fails loudly when a schemathesis or pytest upgrade changes what the suite
relies on, instead of letting the stateful run or the pytest integration quietly degrade.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from qiibee_conformance.certify import schema_failures
from qiibee_conformance.embedded import EmbeddedMock
from qiibee_conformance.fuzzing import OperationResult, fuzz_operations, load_schema
from qiibee_conformance.fuzzing.reporting import report_results
from qiibee_conformance.fuzzing.stateful import drop_unproducible_inputs
from qiibee_conformance.settings import Settings
from qiibee_conformance.spec import iter_operations, load_spec

SETTINGS = Settings(base_url="http://127.0.0.1:9", api_key="qk-fuzzing-guard-1234")


def test_the_dependency_graph_still_has_the_shape_the_state_machine_edits() -> None:
    schema = load_schema(SETTINGS, "stateful")
    assert drop_unproducible_inputs(schema), "schemathesis' dependency graph changed: see fuzzing/stateful.py"
    create_user = schema.analysis.dependency_graph.operations["POST /users"]
    assert create_user.inputs == [], "POST /users needs a resource nothing produces: no scenario starts"
    assert create_user.outputs, "POST /users produces nothing the documented chains could follow"


def test_every_operation_is_fuzzed_in_parallel_and_failures_name_their_operation(
    start_mock: Callable[..., EmbeddedMock],
) -> None:
    """Guard on schemathesis' per-operation test builder (not public API), and proof that the
    worker processes fuzz each operation and report a failure under its own name only."""
    mock = start_mock(faults=["membership-delete-200"])
    settings = Settings(base_url=mock.base_url, api_key=mock.api_key, max_examples=5)
    labels = [f"{m} {p}" for m, p, _ in iter_operations(load_spec())]
    results = fuzz_operations(settings, "positive", labels)
    assert [r.label for r in results] == labels
    assert all(r.cases > 0 and r.calls >= r.cases for r in results), [(r.label, r.cases) for r in results]
    failed = {r.label: r.failure for r in results if r.failure}
    assert list(failed) == ["DELETE /users/{auth_id}/memberships/{implementation_name}"], failed
    assert "Undocumented status code" in str(failed[next(iter(failed))])
    statuses = {call.status for r in results for call in r.observed}
    assert 200 in statuses and mock.api_key not in repr(results)


def test_the_report_names_each_failed_operation_as_the_reports_split_it() -> None:
    """The SCH tests' failure text is what certify files one finding per operation from."""
    results = [
        OperationResult("GET /users", failure="FailureGroup: - ST101 Server error\n\n[500] boom"),
        OperationResult("POST /users"),
        OperationResult(
            "DELETE /users/{auth_id}/memberships/{implementation_name}", failure="- ST103 Undocumented"
        ),
    ]
    node: Any = SimpleNamespace(user_properties=[])
    with pytest.raises(pytest.fail.Exception) as failed:
        report_results(results, node)
    parts = schema_failures.split(f"Failed: {failed.value}")
    assert [label for label, _ in parts] == [results[0].label, results[2].label]
    assert "ST101 Server error" in str(parts[0][1]) and "ST101" not in str(parts[1][1])


def test_fuzzing_never_addresses_a_user_it_did_not_create(start_mock: Callable[..., EmbeddedMock]) -> None:
    """A shared sandbox lists other testers' users: no case may address one (D179). Someone
    else keeps creating users, each with a membership, while every mode fuzzes; the mock's
    access log shows no request for them but their own (schemathesis' reuse of answers and
    the links it infers once took a listed user into DELETE .../memberships/etihad)."""
    from qiibee_conformance.fuzzing import negatable_operations
    from qiibee_conformance.fuzzing.parallel import STATEFUL_LABELS
    from tests.conftest import MockApi

    mock = start_mock(access_log=True)
    api = MockApi(mock)
    theirs: list[str] = []
    done = threading.Event()
    member = {"membership": {"brand_id": "etihad", "membership_number": "100014486294"}}

    def someone_else() -> None:
        while not done.wait(0.02):
            user = api.new_user(first_name="Theirs")["auth_id"]
            assert api.post(f"/users/{user}/memberships", json=member).status_code == 201
            theirs.append(user)

    other = threading.Thread(target=someone_else)
    other.start()
    try:
        settings = Settings(base_url=mock.base_url, api_key=mock.api_key)
        labels = [f"{m} {p}" for m, p, _ in iter_operations(load_spec())]
        results = fuzz_operations(settings, "positive", labels)
        results += fuzz_operations(settings, "negative", negatable_operations())
        results += fuzz_operations(settings, "stateful", STATEFUL_LABELS)
    finally:
        done.set()
        other.join()
    assert sum(r.calls for r in results) > 1000 and len(theirs) > 50
    lines = mock.log_text().splitlines()
    touched = [
        line for user in theirs for line in lines
        if f"/users/{user}" in line and f'"POST /users/{user}/memberships HTTP' not in line
    ]  # fmt: skip
    twice = [u for u in theirs if sum(f'"POST /users/{u}/memberships HTTP' in line for line in lines) > 1]
    assert not touched and not twice, f"the fuzzing addressed users it never made: {(touched + twice)[:5]}"
