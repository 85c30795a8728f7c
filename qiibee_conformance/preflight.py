"""The first request of a run: can it be made at all, with this target and this key?

Answered before anything is created, so that a wrong URL, a redirecting front door or a
rejected key ends the run at once with one line (exit 2), never as a list of findings.
"""

from __future__ import annotations

from qiibee_conformance.client import ApiClient, Response
from qiibee_conformance.errors import RunError
from qiibee_conformance.findings import Redirected

PREFLIGHT_PATH = "/token-exchange-whitelist"


def preflight(client: ApiClient) -> Response:
    """GET the whitelist once; raise RunError on a redirect or a rejected key.

    A redirect here is usually http → https or a moved base path: the user should point
    the run at the final address, since the key is never sent to another origin.
    """
    try:
        response = client.get(PREFLIGHT_PATH)  # RunError "cannot reach ..." on connection failure
    except Redirected as redirect:
        raise RunError(
            f"the target redirects GET {PREFLIGHT_PATH} ({redirect.finding.actual}); the key is never "
            "sent to another address: point the target URL there"
        ) from None
    if response.status in (401, 403):
        raise RunError(f"the API key was rejected (HTTP {response.status} on GET {PREFLIGHT_PATH})")
    return response
