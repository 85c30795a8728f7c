"""JSON Schema validators over the spec's schemas, for the spec's own tests.

OpenAPI 3.0 schemas are not JSON Schema: ``nullable`` must become a ``null`` alternative
(the reading schemathesis uses), and ``$ref`` must resolve against the whole document.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.protocols import Validator

from qiibee_conformance.paths import spec_path
from qiibee_conformance.spec import iter_operations, load_spec, resolve


def component_schemas(spec: dict[str, Any] | None = None) -> dict[str, Any]:
    """``components/schemas`` of the document, as written (OpenAPI 3.0 dialect)."""
    document = spec if spec is not None else load_spec()
    schemas = document.get("components", {}).get("schemas", {})
    return copy.deepcopy(schemas) if isinstance(schemas, dict) else {}


def to_json_schema(node: Any) -> Any:
    """Convert an OpenAPI 3.0 schema tree to JSON Schema 2020-12.

    ``nullable: true`` becomes ``anyOf: [<schema>, {"type": "null"}]`` (the same
    reading schemathesis uses), so ``allOf``/``$ref`` plus ``nullable`` accept null;
    ``example`` is an annotation JSON Schema does not know and is dropped.
    """
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {
        key: (value if key in {"enum", "const", "default"} else to_json_schema(value))
        for key, value in node.items()
        if key not in {"nullable", "example", "discriminator", "xml", "externalDocs"}
    }
    if node.get("nullable") is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@lru_cache(maxsize=4)
def _root(path: Path) -> dict[str, Any]:
    # The validators' root document: every ``#/components/schemas/X`` pointer resolves in it.
    return {"components": {"schemas": to_json_schema(component_schemas(load_spec(path)))}}


def _validator_for(schema: dict[str, Any], path: Path) -> Validator:
    root = dict(_root(path))
    root.update(schema)
    Draft202012Validator.check_schema(root)
    return Draft202012Validator(root)


def response_validator(name: str, *, path: Path | None = None) -> Validator:
    """A validator for the component schema ``name`` (e.g. ``"UserEnvelope"``)."""
    resolved = path or spec_path()
    if name not in _root(resolved)["components"]["schemas"]:
        raise KeyError(f"no component schema named {name!r} in {resolved}")
    return _validator_for({"$ref": f"#/components/schemas/{name}"}, resolved)


def operation_response_validator(
    operation_id: str, status: int | str, *, path: Path | None = None
) -> Validator | None:
    """The validator for one documented response of an operation, or None if it has no JSON body.

    Falls back from the exact status to its ``NXX`` range, as OpenAPI does.
    """
    resolved = path or spec_path()
    document = load_spec(resolved)
    for _method, _path, operation in iter_operations(document):
        if operation.get("operationId") != operation_id:
            continue
        responses = operation.get("responses", {})
        code = str(status)
        response = responses.get(code) or responses.get(f"{code[0]}XX")
        if response is None:
            raise KeyError(f"{operation_id} documents no {code} response")
        response = resolve(document, response)
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            return None
        return _validator_for(to_json_schema(copy.deepcopy(schema)), resolved)
    raise KeyError(f"no operation with operationId {operation_id!r}")


