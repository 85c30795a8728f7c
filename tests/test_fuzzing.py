"""Guards on what the fuzzing package takes from schemathesis beyond its public API.

Each of these fails loudly when a schemathesis or pytest upgrade changes what the suite
relies on, instead of letting the stateful run or the pytest integration quietly degrade.
"""

from __future__ import annotations

import inspect

import schemathesis.pytest.lazy as schemathesis_lazy

from qiibee_conformance.fuzzing import load_schema
from qiibee_conformance.fuzzing.pytest_compat import nodeid_shim
from qiibee_conformance.fuzzing.stateful import drop_unproducible_inputs
from qiibee_conformance.settings import Settings

SETTINGS = Settings(base_url="http://127.0.0.1:9", api_key="qk-fuzzing-guard-1234")


def test_the_dependency_graph_still_has_the_shape_the_state_machine_edits() -> None:
    schema = load_schema(SETTINGS, "stateful")
    assert drop_unproducible_inputs(schema), "schemathesis' dependency graph changed: see fuzzing/stateful.py"
    create_user = schema.analysis.dependency_graph.operations["POST /users"]
    assert create_user.inputs == [], "POST /users needs a resource nothing produces: no scenario starts"
    assert create_user.outputs, "POST /users produces nothing the documented chains could follow"


def test_schemathesis_still_reads_the_private_nodeid_the_shim_provides() -> None:
    source = inspect.getsource(schemathesis_lazy)
    assert "_nodeid" in source, "schemathesis no longer reads node._nodeid: remove fuzzing/pytest_compat.py"


def test_the_shim_gives_a_node_its_nodeid_once() -> None:
    class Node:
        nodeid = "contracts/test_schema.py::test_x"

    node = Node()
    nodeid_shim(node)
    assert node._nodeid == Node.nodeid  # type: ignore[attr-defined]
    node._nodeid = "relabelled"  # type: ignore[attr-defined]
    nodeid_shim(node)
    assert node._nodeid == "relabelled"  # type: ignore[attr-defined]
