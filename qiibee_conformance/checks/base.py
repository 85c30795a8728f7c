"""What a business check is, how it asserts, and the registry the runners read.

A check is a function of a :class:`~qiibee_conformance.checks.context.CheckContext`
registered under one requirement id. It raises :class:`Nonconformity` (the target
broke the rule, with the exchanges that prove it) or :class:`Untestable` (the
target lacks what the check needs: reported with the reason, never a failure). A
warn-level assertion (:func:`advise`) files an advisory and lets the check go on.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qiibee_conformance.checks.outcome import file_advisory
from qiibee_conformance.client import Response
from qiibee_conformance.evidence import Exchange
from qiibee_conformance.findings import Finding, Level, Nonconformity, as_exchange
from qiibee_conformance.requirements import GROUPS, REQUIREMENTS, Requirement

if TYPE_CHECKING:
    from qiibee_conformance.checks.context import CheckContext

# One module per business group, named after it (the schema groups are not checks).
GROUP_MODULES: tuple[str, ...] = tuple(g for g in GROUPS if g not in ("schema", "stateful"))


CheckFn = Callable[["CheckContext"], None]


@dataclass(frozen=True)
class Check:
    requirement: Requirement
    func: CheckFn

    @property
    def id(self) -> str:
        return self.requirement.id

    def __call__(self, ctx: CheckContext) -> None:
        self.func(ctx)


REGISTRY: dict[str, Check] = {}


def check(requirement_id: str) -> Callable[[CheckFn], CheckFn]:
    """Register the decorated function as the check of ``requirement_id``."""
    requirement = REQUIREMENTS[requirement_id]

    def register(func: CheckFn) -> CheckFn:
        if requirement_id in REGISTRY:
            raise ValueError(f"two checks for {requirement_id}")
        REGISTRY[requirement_id] = Check(requirement, func)
        return func

    return register


def all_checks() -> list[Check]:
    """Every registered check, in the order of the requirement catalogue."""
    for name in GROUP_MODULES:
        importlib.import_module(f"qiibee_conformance.checks.{name}")
    order = list(REQUIREMENTS)
    return sorted(REGISTRY.values(), key=lambda c: order.index(c.id))


# Assertion helpers ---------------------------------------------------------------------------
def describe(response: Response) -> str:
    body = response.text.strip().replace("\n", " ")
    if len(body) > 200:
        body = body[:200] + "..."
    described = f"HTTP {response.status} {body!r}" if body else f"HTTP {response.status} (empty body)"
    # what the client noted of the answer (a body cut off at the size cap)
    return f"{described} ({response.exchange.error})" if response.exchange.error else described


def describe_calls(responses: Iterable[Response], most: int = 5) -> str:
    """The first ``most`` calls, each with its answer, for a finding about several of them."""
    return "; ".join(f"{r.exchange.method} {r.exchange.url} → {describe(r)}" for r in list(responses)[:most])


def _wanted(expected: Iterable[int]) -> str:
    return "HTTP " + " or ".join(str(s) for s in expected)


def expect_status(response: Response, expected: Iterable[int], what: str, *more: Response | Exchange) -> None:
    """Raise a Nonconformity unless the response has one of the expected statuses."""
    allowed = tuple(expected)
    if response.status not in allowed:
        wanted = _wanted(allowed)
        raise Nonconformity(
            f"{what}: expected {wanted}, got {describe(response)}",
            [*more, response],
            expected=wanted,
            actual=f"HTTP {response.status}",
        )


def expect_4xx(response: Response, what: str, *more: Response | Exchange) -> None:
    if not 400 <= response.status < 500:
        raise Nonconformity(
            f"{what}: expected a 4xx, got {describe(response)}",
            [*more, response],
            expected="a 4xx",
            actual=f"HTTP {response.status}",
        )


def ensure(
    condition: object,
    message: str,
    *evidence: Response | Exchange,
    expected: str | None = None,
    actual: str | None = None,
) -> None:
    """A fail-level assertion (at the requirement's own level): the check ends on it."""
    if not condition:
        raise Nonconformity(message, evidence, expected=expected, actual=actual)


def advise(
    condition: object,
    message: str,
    *evidence: Response | Exchange,
    decision: str,
    expected: str | None = None,
    actual: str | None = None,
) -> bool:
    """A warn-level assertion resting on ``decision`` (a DECISIONS.md id): when it does not
    hold, an advisory is filed and the check goes on. Returns whether it held."""
    if condition:
        return True
    file_advisory(
        Finding(
            message=message,
            evidence=tuple(as_exchange(e) for e in evidence),
            level=Level.WARN,
            decision=decision,
            expected=expected,
            actual=actual,
        )
    )
    return False


def data_object(response: Response, what: str) -> dict[str, Any]:
    """The ``data`` object of a success body, or a Nonconformity."""
    data = response.data()
    if not isinstance(data, dict):
        raise Nonconformity(f'{what}: expected {{"data": {{...}}}}, got {describe(response)}', [response])
    return data
