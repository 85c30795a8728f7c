"""What a check can conclude about the target, as data: a finding at a level, or untestable.

A leaf module (it imports only the evidence record), so that the client, the checks,
the runners and the reports all speak of findings the same way without importing
each other. The other family, "the run could not be made", is
:class:`~qiibee_conformance.errors.RunError`; the two are never mixed.

Levels (``openapi/DECISIONS.md``, "How to read the levels"):

- ``fail``: the documents say it, or breaking it loses money or data. A finding at this
  level is a nonconformity: certification fails.
- ``warn``: the project's reading where the documents are silent. A finding at this level
  is an *advisory*: reported with its evidence everywhere, and a failure only in strict mode.

"Tolerated" is not a level of a finding: every tolerated behaviour passes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from qiibee_conformance.evidence import Exchange


class Level(StrEnum):
    FAIL = "fail"
    WARN = "warn"


# Volatile values a finding's message may carry (ids, times, amounts, addresses): left out of
# its fingerprint, so the same deviation found in two runs has the same fingerprint.
_VOLATILE = (
    (re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"), "<uuid>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"), "<time>"),
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "<email>"),
    (re.compile(r"https?://[^\s'\"]+"), "<url>"),
    (re.compile(r"\bqc-[\w-]+"), "<run-value>"),
    # a generated id mixing letters and digits (usr_eee1e66299f3c02b, tx-9f2c81aa); names
    # (user_auth_id) and codes (ST101, HIS-01) stay
    (re.compile(r"(?<![\w-])(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w-]{8,}(?![\w-])"), "<id>"),
    (re.compile(r"\b[0-9a-f]{12,}\b"), "<hex>"),
    (re.compile(r"\d+(\.\d+)?"), "<n>"),
)


def stable_text(message: str) -> str:
    """``message`` with its volatile values replaced by placeholders."""
    for pattern, placeholder in _VOLATILE:
        message = pattern.sub(placeholder, message)
    return " ".join(message.split())


def as_exchange(item: Any) -> Exchange:
    # A client Response carries its Exchange; accepting either keeps call sites short.
    exchange = getattr(item, "exchange", item)
    if not isinstance(exchange, Exchange):
        raise TypeError(f"evidence must be an Exchange or a Response, not {type(item).__name__}")
    return exchange


@dataclass(frozen=True)
class Finding:
    """One deviation: what was expected, what the target did, and the exchanges that show it.

    ``level`` and ``decision`` left as None take the requirement's own when the runner
    files the finding under it (:meth:`filed`).
    """

    message: str
    evidence: tuple[Exchange, ...] = ()
    level: Level | None = None
    decision: str | None = None  # the DECISIONS.md id of the reading a warn-level finding rests on
    expected: str | None = None
    actual: str | None = None
    requirement_id: str | None = None
    notes: tuple[str, ...] = field(default=())

    def filed(self, requirement_id: str, level: Level, decision: str | None) -> Finding:
        """The finding filed under a requirement, its level and basis defaulting to the requirement's."""
        return replace(
            self,
            requirement_id=self.requirement_id or requirement_id,
            level=self.level or level,
            decision=self.decision or (decision if (self.level or level) == Level.WARN else None),
        )

    @property
    def fingerprint(self) -> str:
        """A stable key for "the same finding" across runs: requirement, level and the message
        with volatile values (ids, times, amounts, addresses) left out."""
        text = f"{self.requirement_id}|{self.level}|{stable_text(self.message)}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {
            "requirement_id": self.requirement_id,
            "level": str(self.level) if self.level else None,
            "decision": self.decision,
            "message": self.message,
            "expected": self.expected,
            "actual": self.actual,
            "fingerprint": self.fingerprint,
            "evidence": [e.to_dict() for e in self.evidence],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        """The inverse of :meth:`to_dict`, evidence left out (reports keep it as plain data)."""
        level = data.get("level")
        return cls(
            message=str(data.get("message") or ""),
            level=Level(level) if level else None,
            decision=data.get("decision"),
            expected=data.get("expected"),
            actual=data.get("actual"),
            requirement_id=data.get("requirement_id"),
        )


class Nonconformity(AssertionError):  # noqa: N818 - the name the runners and reports use
    """The target broke a rule; raised by a check, it ends the check with this finding.

    Raised with ``level=Level.WARN`` (or inside a warn-level requirement) it is filed as an
    advisory instead; prefer :func:`qiibee_conformance.checks.base.advise`, which does not
    end the check, for a warn-level assertion among fail-level ones.
    """

    def __init__(
        self,
        message: str,
        evidence: Iterable[Any] = (),
        *,
        level: Level | None = None,
        decision: str | None = None,
        expected: str | None = None,
        actual: str | None = None,
    ) -> None:
        super().__init__(message)
        self.finding = Finding(
            message=message,
            evidence=tuple(as_exchange(e) for e in evidence),
            level=level,
            decision=decision,
            expected=expected,
            actual=actual,
        )

    @property
    def message(self) -> str:
        return self.finding.message

    @property
    def evidence(self) -> list[Exchange]:
        return list(self.finding.evidence)


class Redirected(Nonconformity):
    """The target answered with a redirect; none is documented, and one to another origin is
    never followed (the key stays with the target)."""


class NoAnswer(Nonconformity):
    """The target took a request and never answered it (in time, or whole): the endpoint's
    finding, for the requirement that needed it; the rest of the run goes on."""


class Untestable(Exception):  # noqa: N818 - reads as the outcome, like pytest's Skipped
    """The target gives the check no means to run; never a failure, never silently a pass.

    ``prerequisite`` names the run-wide prerequisite that was not met, if that is why.
    """

    def __init__(self, reason: str, *, prerequisite: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.prerequisite = prerequisite
