"""Stable fingerprints of every finding of a report, the key of the baseline and the diff.

A finding is fingerprinted by :attr:`qiibee_conformance.findings.Finding.fingerprint`
(requirement, level and the message with volatile values left out). A schemathesis
failure's message holds generated data, a test case id and a curl line; what stays is
*which* failures (their titles, e.g. "ST101 Server error") on *which* operation, and that
is what is fingerprinted, through the same :class:`~qiibee_conformance.findings.Finding`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from qiibee_conformance.certify.operations import template_of
from qiibee_conformance.findings import Finding, Level

# schemathesis lists each distinct failure as "- <code> <title>" at the start of a line.
_FAILURE_TITLE = re.compile(r"^- (\S.*?)\s*$", re.MULTILINE)
# A failure names its operation: "(label='POST /users')" in a subtest, "POST /users: ..." at its start.
_LABEL = re.compile(r"label='([A-Z]+ /[^']*)'|\A([A-Z]+ /\S*): ")
def fingerprint(requirement_id: str | None, level: str | None, message: str) -> str:
    """The fingerprint of a finding with this requirement, level and message."""
    known_level = Level(level) if level in {Level.FAIL, Level.WARN} else None
    return Finding(message=message, requirement_id=requirement_id, level=known_level).fingerprint


def stamped(finding: dict[str, Any], requirement_id: str, level: str) -> dict[str, Any]:
    """A check's finding (as data) with the report's fingerprint."""
    rid = str(finding.get("requirement_id") or requirement_id)
    shown = str(finding.get("level") or level)
    return {**finding, "fingerprint": fingerprint(rid, shown, str(finding.get("message") or ""))}


def _operation_of_url(method: str, url: str) -> str | None:
    segments = [s for s in urlsplit(url).path.split("/") if s]
    for start in range(len(segments) + 1):  # the target's own base path (e.g. /api/v2) comes first
        template = template_of("/" + "/".join(segments[start:]))
        if template is not None:
            return f"{method.upper()} {template}"
    return None


def operation_of_exchange(exchange: object) -> str | None:
    """``POST /users`` for an exchange (as report data) sent to that operation; None if unknown."""
    request = exchange.get("request") if isinstance(exchange, dict) else None
    if isinstance(request, dict) and request.get("method") and request.get("url"):
        return _operation_of_url(str(request["method"]), str(request["url"]))
    return None


def operation_of(message: str, evidence: Iterable[dict[str, Any]]) -> str | None:
    """The operation a failure is about: the label its message names, else its last request's."""
    named = _LABEL.search(message)
    if named is not None:
        return named.group(1) or named.group(2)
    for exchange in reversed(list(evidence)):
        found = operation_of_exchange(exchange)
        if found is not None:
            return found
    return None


def schemathesis_summary(message: str, evidence: Iterable[dict[str, Any]]) -> str | None:
    """Name a schemathesis failure's operation and titles; None for any other message.

    For example ``POST /users: ST101 Server error; ST103 Undocumented status code``.
    """
    titles = sorted(set(_FAILURE_TITLE.findall(message)))
    if not titles:
        return None
    operation = operation_of(message, evidence) or "(operation unknown)"
    return f"{operation}: {'; '.join(titles)}"


def failure_fingerprint(
    requirement_id: str | None, level: str | None, message: str, evidence: Iterable[dict[str, Any]]
) -> str:
    """Fingerprint a failure that has no structured finding.

    A schemathesis failure by its titles on its operation, any other by its message
    (volatile values left out, as every finding's).
    """
    summary = schemathesis_summary(message, evidence)
    return fingerprint(requirement_id, level, summary if summary is not None else message)
