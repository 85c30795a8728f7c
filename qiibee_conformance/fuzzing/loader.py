"""The spec as a schemathesis schema aimed at a target, configured for one mode."""

from __future__ import annotations

from typing import Any

import schemathesis

from qiibee_conformance.discovery import Catalogue
from qiibee_conformance.fuzzing import auth_probe  # noqa: F401 - registers the custom check
from qiibee_conformance.fuzzing.cases import (
    AnyCase,
    fresh_identities,
    integer_query_parameters,
    is_ambiguous_case,
    url_safe_auth_ids,
)
from qiibee_conformance.fuzzing.config import Mode, build_config
from qiibee_conformance.fuzzing.links import add_transaction_links
from qiibee_conformance.settings import Settings
from qiibee_conformance.spec import iter_operations, load_spec, resolve

__all__ = ["AnyCase", "load_schema", "negatable_operations"]


def negatable_operations() -> list[str]:
    """Operations (``METHOD /path``) with input the documents can call invalid: a body, or a typed
    query parameter.

    The others take only opaque path strings (an unknown auth_id is "not found",
    not invalid input), so schemathesis has no negative case to make for them.
    """
    spec = load_spec()
    found: list[str] = []
    for method, path, operation in iter_operations(spec):
        params = [resolve(spec, p) for p in operation.get("parameters", [])]
        typed = any(p.get("schema", {}).get("type") not in (None, "string") for p in params)
        if "requestBody" in operation or typed:
            found.append(f"{method} {path}")
    return found


def load_schema(settings: Settings, mode: Mode, *, catalogue: Catalogue | None = None) -> Any:
    """The spec as a schemathesis schema aimed at the target, configured for ``mode``."""
    raw = load_spec()
    if catalogue is not None:
        add_transaction_links(raw, catalogue)
    schema = schemathesis.openapi.from_dict(raw, config=build_config(settings, mode))
    integer_query = integer_query_parameters()

    @schema.hook("filter_case")
    def _drop_ambiguous(context: schemathesis.HookContext, case: AnyCase) -> bool:
        return not is_ambiguous_case(case, integer_query)

    @schema.hook("map_case")
    def _routable_auth_ids(context: schemathesis.HookContext, case: AnyCase) -> AnyCase:
        case = url_safe_auth_ids(case)
        return fresh_identities(case) if mode == "stateful" else case

    return schema
