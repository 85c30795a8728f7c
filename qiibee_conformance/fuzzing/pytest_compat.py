"""A shim between schemathesis' pytest integration and the installed pytest.

schemathesis 4.32's ``from_fixture`` reads ``node._nodeid`` to relabel the test in its own
output; pytest 9.2 dropped that private attribute. ``tests/test_fuzzing.py`` fails loudly
when schemathesis stops reading it (the shim can go) and when it is needed but missing.
"""

from __future__ import annotations

from typing import Any


def nodeid_shim(node: Any) -> None:
    """Give ``node`` the ``_nodeid`` schemathesis reads; a no-op where pytest still has it."""
    if not hasattr(node, "_nodeid"):
        node._nodeid = node.nodeid
