"""The documented operations, their documented statuses, and which of them a request was.

An operation is a method on a path template of ``openapi/qiibee.yaml`` (``GET /users/{auth_id}``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from qiibee_conformance.spec import iter_operations

_PARAMETER = re.compile(r"\{[^/{}]+\}")


@dataclass(frozen=True)
class Operation:
    """One documented operation: ``GET /users/{auth_id}`` and the statuses its responses list."""

    method: str
    path: str
    operation_id: str
    documented: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    def documents(self, status: int) -> str | None:
        """The documented status that covers ``status`` (itself, or its range such as 4XX)."""
        if str(status) in self.documented:
            return str(status)
        family = f"{status // 100}XX"
        return family if family in self.documented else None

    def seen(self, statuses: Iterable[int]) -> set[str]:
        """The documented statuses that ``statuses`` show.

        Each one listed, and a range (4XX) when any status of its family was seen.
        """
        seen = {str(s) for s in statuses}
        families = {f"{int(s) // 100}XX" for s in seen}
        return {d for d in self.documented if d in seen or d in families}


def _pattern(path: str) -> re.Pattern[str]:
    parts = _PARAMETER.split(path)
    return re.compile("[^/]+".join(re.escape(part) for part in parts) + "/?")


@lru_cache(maxsize=1)
def documented_operations() -> tuple[Operation, ...]:
    """Every operation of ``openapi/qiibee.yaml``, in document order."""
    return tuple(
        Operation(
            method=method,
            path=path,
            operation_id=str(operation.get("operationId", "")),
            documented=tuple(str(code) for code in operation.get("responses", {})),
        )
        for method, path, operation in iter_operations()
    )


@lru_cache(maxsize=1)
def _templates() -> tuple[tuple[str, re.Pattern[str]], ...]:
    paths = dict.fromkeys(op.path for op in documented_operations())
    # Literal paths first: /users/x/balances is never read as /users/{auth_id} (a segment has no "/").
    ordered = sorted(paths, key=lambda p: len(_PARAMETER.findall(p)))
    return tuple((path, _pattern(path)) for path in ordered)


def path_of(url: str, base_url: str) -> str:
    """The path of ``url`` below ``base_url``'s own path (a base such as https://h/api/v2)."""
    path = urlsplit(url).path or "/"
    base = urlsplit(base_url).path.rstrip("/")
    if base and path.startswith(base):
        path = path[len(base) :] or "/"
    return path


def template_of(path: str) -> str | None:
    """The documented path template ``path`` falls under, or None."""
    for template, pattern in _templates():
        if pattern.fullmatch(path):
            return template
    return None


def find(method: str, template: str) -> Operation | None:
    """The documented operation for ``method`` on ``template``, or None (an undocumented method)."""
    for operation in documented_operations():
        if operation.method == method.upper() and operation.path == template:
            return operation
    return None
