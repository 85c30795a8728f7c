"""A schemathesis answer as the suite's evidence record: the same Exchange the client keeps."""

from __future__ import annotations

from typing import Any

from qiibee_conformance.evidence import Exchange
from qiibee_conformance.redact import Redactor

_BODY_KEPT = 4000
_HEADERS = Redactor()  # masks the secret headers by name; the run's redactor masks the key by value


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def exchange_of(response: Any) -> Exchange:
    """The request schemathesis sent and the answer it got (secret headers masked)."""
    request = response.request
    response_headers = {name: ", ".join(values) for name, values in dict(response.headers).items()}
    return Exchange(
        method=str(request.method),
        url=str(request.url),
        request_headers=_HEADERS.headers({str(k): str(v) for k, v in request.headers.items()}),
        request_body=_text(request.body),
        status=int(response.status_code),
        response_headers=_HEADERS.headers(response_headers),
        response_body=(_text(response.content) or "")[:_BODY_KEPT],
        elapsed_ms=float(response.elapsed) * 1000,
    )
