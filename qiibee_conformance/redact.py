"""Keep API keys out of everything a user can see: logs, reports, exceptions."""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "***REDACTED***"
_SECRET_HEADERS = frozenset({"x-api-key", "authorization", "cookie", "proxy-authorization"})


class Redactor:
    """Replaces every known secret value in text, and secret headers in mappings."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        # Very short values would redact innocent text; keys are never that short.
        if secret and len(secret) >= 4 and secret not in self._secrets:
            self._secrets.append(secret)
            self._secrets.sort(key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, REDACTED)
        return value

    def headers(self, headers: dict[str, str]) -> dict[str, str]:
        return {
            k: (REDACTED if k.lower() in _SECRET_HEADERS else self.text(v)) for k, v in headers.items()
        }


# A header line's value: key-like characters only, so prose such as
# "without X-API-KEY: POST /users" keeps its words.
_KEY_CHARS = r"[A-Za-z0-9._~+/=-]"
_HEADER_RE = re.compile(rf"(?i)(x-api-key\s*[:=]\s*)(?={_KEY_CHARS}*[0-9_.~+/=-])({_KEY_CHARS}{{6,}})")


def scrub_header_values(text: str) -> str:
    """Redact ``X-API-KEY: value`` patterns even when the value is not known."""
    return _HEADER_RE.sub(lambda m: m.group(1) + REDACTED, text)
