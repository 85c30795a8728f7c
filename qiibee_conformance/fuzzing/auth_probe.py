"""schemathesis' ``ignored_auth``, made to tolerate rate limiting on its own probes.

Registered with ``@schemathesis.check`` on import (the loader and the plain-schemathesis
hooks module import it). It reads the probe's status from the failure schemathesis
raises; ``tests/test_fuzzing.py`` holds that reading against the installed schemathesis,
and if the wording ever changes the check fails as schemathesis' own would (never passes).
"""

from __future__ import annotations

import re
from typing import Any

import schemathesis
from schemathesis.checks import CheckContext
from schemathesis.openapi.checks import IgnoredAuth
from schemathesis.specs.openapi.checks import ignored_auth

_PROBE_STATUS = re.compile(r"got `(\d{3})\b")
_RATE_LIMITED_PROBE = frozenset({429, 503})
# Per target: the operations whose probes already showed the key enforced. schemathesis' own
# runner keeps this set per run ("enforcement is a property of the operation, so one
# confirmation per run is enough"); a case validated on its own gets none, and would probe
# every successful case twice more (a third of a run's requests).
_ENFORCED: dict[str, set[str]] = {}


@schemathesis.check
def ignored_auth_unless_rate_limited(
    ctx: CheckContext, response: Any, case: schemathesis.Case[Any]
) -> bool | None:
    """The ``ignored_auth`` check of schemathesis, except that a probe answered 429 or 503 proves nothing.

    Its probes (the request without the key, and with a wrong one) go out on a fresh
    session, not through the suite's transport, so rate limiting is not waited out there.
    Rate limiting is tolerated anywhere; AUTH-01/AUTH-02 judge the key on every operation
    through the transport.
    """
    __tracebackhide__ = True
    if ctx is not None and getattr(ctx, "auth_enforced_operations", None) is None:
        target = str(getattr(getattr(case, "operation", None), "base_url", ""))
        ctx.auth_enforced_operations = _ENFORCED.setdefault(target, set())
    try:
        return ignored_auth(ctx, response, case)
    except IgnoredAuth as failure:
        found = _PROBE_STATUS.search(failure.message or "")
        if found is not None and int(found.group(1)) in _RATE_LIMITED_PROBE:
            return None
        raise
