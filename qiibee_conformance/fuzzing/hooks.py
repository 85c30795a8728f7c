"""Hooks for plain ``schemathesis run``, loaded by the repository's ``schemathesis.toml``.

They make a plain run judge as ``certify`` does (DECISIONS D145-D150): the custom
``ignored_auth_unless_rate_limited`` check is registered, cases whose verdict the documents
do not settle are never sent, generated auth_ids are made routable (and fresh in stateful
scenarios), and a stateful scenario may start with POST /users.

Registered globally on import, as schemathesis loads a hooks module; ``certify`` never
imports this module (it registers the same rules on its own schemas).
"""

from __future__ import annotations

from typing import Any

import schemathesis

from qiibee_conformance.fuzzing import auth_probe  # noqa: F401 - registers the custom check
from qiibee_conformance.fuzzing.cases import (
    AnyCase,
    fresh_identities,
    integer_query_parameters,
    is_ambiguous_case,
    url_safe_auth_ids,
)
from qiibee_conformance.fuzzing.stateful import drop_unproducible_inputs

_INTEGER_QUERY = integer_query_parameters()


def _in_stateful_phase(case: AnyCase) -> bool:
    phase = getattr(getattr(case, "meta", None), "phase", None)
    return str(getattr(phase, "name", "")) == "stateful"


@schemathesis.hook
def filter_case(context: schemathesis.HookContext, case: AnyCase) -> bool:
    """Never send a case whose verdict the documents do not settle (D124, D135)."""
    return not is_ambiguous_case(case, _INTEGER_QUERY)


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: AnyCase) -> AnyCase:
    """Routable auth_ids (D125); in stateful scenarios, a fresh user on every replay."""
    case = url_safe_auth_ids(case)
    return fresh_identities(case) if _in_stateful_phase(case) else case


@schemathesis.hook
def after_load_schema(context: schemathesis.HookContext, schema: Any) -> None:
    """Let stateful scenarios start with POST /users (D150)."""
    drop_unproducible_inputs(schema)
