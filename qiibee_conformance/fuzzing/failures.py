"""schemathesis failures printed without the key (it masks the header; the redactor the value)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from schemathesis.core.failures import FailureGroup

from qiibee_conformance.redact import Redactor, scrub_header_values


def redact_failure(exc: FailureGroup, redactor: Redactor) -> FailureGroup:
    """The same failures, with a message safe to print (schemathesis already masks the header)."""
    message = scrub_header_values(redactor.text(exc.message))
    redacted = FailureGroup(list(exc.exceptions), message)
    redacted.__notes__ = [scrub_header_values(redactor.text(n)) for n in getattr(exc, "__notes__", [])]
    return redacted


@contextmanager
def redacted_failures(redactor: Redactor) -> Iterator[None]:
    """Re-raise schemathesis failures with the key scrubbed from the message."""
    try:
        yield
    except FailureGroup as exc:
        raise redact_failure(exc, redactor) from None
