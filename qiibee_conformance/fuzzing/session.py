"""How generated requests travel: on the suite's transport, with schemathesis' cookie handling."""

from __future__ import annotations

from typing import Any

import requests
from schemathesis.transport.requests import ManagedCookiesSession

from qiibee_conformance.fuzzing.failures import redacted_failures
from qiibee_conformance.redact import Redactor
from qiibee_conformance.transport import GuardedSession, Limits


class _GeneratedCallsSession(GuardedSession, ManagedCookiesSession):
    """The suite's transport rules (redirects only within the origin, rate limits waited out,
    bounded bodies) on the session class whose cookies schemathesis drops between calls."""


def http_session(limits: Limits | None = None) -> requests.Session:
    """One keep-alive session for a run's generated requests, as schemathesis' own runner keeps.

    Without it every case opens a new connection. It adds no headers of its own
    (the case and the config supply them) and drops response cookies after
    every request, like the throwaway session schemathesis makes per call.
    """
    session = _GeneratedCallsSession(limits)
    session.headers.clear()
    return session


def call_and_validate(case: Any, redactor: Redactor, session: requests.Session | None = None) -> None:
    """One generated request, judged by the checks enabled for its mode."""
    __tracebackhide__ = True
    with redacted_failures(redactor):
        case.call_and_validate(session=session)
