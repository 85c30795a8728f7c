"""The project's OpenAPI document: loaded once, handed out as copies, its operations and references.

schemathesis reads it (with run-time links added, ``qiibee_conformance.fuzzing``), and so
do the spec's own tests, which hold its schemas against the tolerated variants.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from qiibee_conformance.errors import RunError
from qiibee_conformance.paths import spec_path

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@lru_cache(maxsize=4)
def _load(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise RunError(f"cannot read the OpenAPI document {path}: {err.strerror}") from None
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise RunError(f"the OpenAPI document {path} is not valid YAML: {err}") from None
    if not isinstance(loaded, dict) or "paths" not in loaded:
        raise RunError(f"the OpenAPI document {path} has no 'paths'")
    return loaded


def load_spec(path: Path | None = None) -> dict[str, Any]:
    """A fresh deep copy of the document, so callers may patch it (e.g. add links) freely."""
    return copy.deepcopy(_load(path or spec_path()))


def iter_operations(spec: dict[str, Any] | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    """Every ``(METHOD, path, operation)`` of the document, in document order."""
    document = spec if spec is not None else _load(spec_path())
    found: list[tuple[str, str, dict[str, Any]]] = []
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            operation = item.get(method)
            if isinstance(operation, dict):
                found.append((method.upper(), path, operation))
    return found


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with its local ``$ref`` (``#/components/...``) followed, to the end of the chain."""
    ref = node.get("$ref")
    if not isinstance(ref, str):
        return node
    target: Any = document
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    if not isinstance(target, dict):
        raise KeyError(f"{ref} does not point at an object")
    return resolve(document, target)
