"""Requirement ids and groups of contract tests, for ``--only`` and for reports.

A contract test names what it certifies with ``@pytest.mark.requirement("EXC-03")``;
the group of an id comes from :data:`qiibee_conformance.requirements.REQUIREMENTS`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from qiibee_conformance.errors import RunError

if TYPE_CHECKING:
    import pytest

MARKER = "requirement"


def requirement_ids(item: pytest.Item) -> list[str]:
    """The ids named by the item's ``requirement`` markers, in order, without repeats."""
    ids: list[str] = []
    for mark in item.iter_markers(name=MARKER):
        for value in (*mark.args, mark.kwargs.get("id")):
            if isinstance(value, str) and value not in ids:
                ids.append(value)
    return ids


def group_of(requirement_id: str) -> str | None:
    from qiibee_conformance.requirements import REQUIREMENTS

    requirement = REQUIREMENTS.get(requirement_id)
    return requirement.group if requirement is not None else None


def valid_groups() -> list[str]:
    from qiibee_conformance.requirements import REQUIREMENTS

    return list(dict.fromkeys(r.group for r in REQUIREMENTS.values()))


def parse_groups(values: Iterable[str] | None) -> frozenset[str]:
    """``--only a b,c`` → {a, b, c}; RunError listing the valid groups on an unknown one."""
    chosen = {part.strip().lower() for value in values or () for part in value.split(",") if part.strip()}
    valid = valid_groups()
    unknown = sorted(chosen - set(valid))
    if unknown:
        raise RunError(f"unknown group {unknown[0]!r}; valid groups: {', '.join(valid)}")
    return frozenset(chosen)
