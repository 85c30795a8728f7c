"""The first request of a run: can it be made at all, with this target and this key?

Answered before anything is created, so that a wrong URL, a redirecting front door or a
rejected key ends the run at once with one line (exit 2), never as a list of findings.
"""

from __future__ import annotations

from qiibee_conformance.client import ApiClient, Response
from qiibee_conformance.errors import RunError
from qiibee_conformance.findings import NoAnswer, Redirected

PREFLIGHT_PATH = "/token-exchange-whitelist"


def preflight(client: ApiClient) -> Response:
    """GET the whitelist once; raise RunError when the run cannot be made there.

    A redirect here is usually http → https or a moved base path: the user should point
    the run at the final address, since the key is never sent to another origin. A key
    refused, no answer, a 5xx or a body that is no JSON object on this first request mean
    a wrong URL, a wrong key or a target that is down, not a finding about the API.
    """
    try:
        response = client.get(PREFLIGHT_PATH)  # RunError "cannot reach ..." on connection failure
    except Redirected as redirect:
        raise RunError(
            f"the target redirects GET {PREFLIGHT_PATH} ({redirect.finding.actual}); the key is never "
            "sent to another address: point the target URL there"
        ) from None
    except NoAnswer as silence:
        raise RunError(f"the target does not answer: {silence.message}") from None
    if response.status in (401, 403):
        raise RunError(f"API key rejected (HTTP {response.status} on GET {PREFLIGHT_PATH})")
    if response.status >= 500:
        raise RunError(
            f"the target is not serving the API: GET {PREFLIGHT_PATH} answered HTTP {response.status}"
            f"{_content_type(response)}"
        )
    if response.status == 200 and not isinstance(response.json(), dict):
        raise RunError(
            f"GET {PREFLIGHT_PATH} answered 200 with no JSON object{_content_type(response)}: "
            "is the target URL the API's base URL?"
        )
    return response


def _content_type(response: Response) -> str:
    kind = response.headers.get("Content-Type")
    return f" ({kind})" if kind else ""
