"""A schemathesis test's failure, one finding per operation that failed.

The schema tests run every operation in one test and fail it with all the operations that
failed (``N failed: A, B`` and then ``A: <failure>`` for each). Filed as one
finding, a second operation failing would change it; filed per operation, each keeps its
own fingerprint, and a baseline or a diff names exactly the operation that changed.
Any other failure stays one finding.
"""

from __future__ import annotations

import re
from typing import Any

from qiibee_conformance.certify.fingerprints import failure_fingerprint, operation_of_exchange

_HEADER = re.compile(r"^(?:Failed: )?\d+ (?:operation\(s\) )?failed: ([^\n]+)$", re.MULTILINE)


def split(message: str) -> list[tuple[str | None, str]]:
    """``(operation, its failure text)`` per operation the message lists; else ``[(None, message)]``."""
    header = _HEADER.search(message)
    labels = [label.strip() for label in header.group(1).split(",")] if header else []
    starts = [message.find(f"\n{label}: ") for label in labels]
    if not labels or min(starts) < 0 or starts != sorted(starts):
        return [(None, message)]
    bounds = [*starts[1:], len(message)]
    return [(label, message[a:b].strip()) for label, a, b in zip(labels, starts, bounds, strict=True)]


def findings(requirement_id: str, level: str, test: Any) -> list[dict[str, Any]]:
    """The findings of a failed test that gave no structured one (``test``: an ItemRecord)."""
    found = []
    for operation, text in split(test.message):
        evidence = [e for e in test.evidence if operation is None or operation_of_exchange(e) == operation]
        found.append(
            {
                "requirement_id": requirement_id,
                "level": level,
                "decision": None,
                "message": text,
                "expected": None,
                "actual": None,
                "fingerprint": failure_fingerprint(requirement_id, level, text, evidence),
                "evidence": evidence,
                "test": test.nodeid,
            }
        )
    return found
