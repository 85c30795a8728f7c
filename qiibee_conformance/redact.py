"""Keep API keys out of everything a user can see: logs, reports, exceptions."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from pathlib import Path

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


def _spellings(secret: str) -> set[str]:
    return {secret, html.escape(secret, quote=True), json.dumps(secret)[1:-1]}


def scrub_files(paths: Iterable[Path], secrets: Iterable[str | None]) -> list[Path]:
    """The last line of defence, run after every report is written: rewrite any file in which
    a secret still appears (raw, JSON-escaped or HTML-escaped); return the files that needed it,
    so the caller can say so (a redaction bug upstream)."""
    spellings = sorted(
        {s for secret in secrets if secret and len(secret) >= 4 for s in _spellings(secret)},
        key=len,
        reverse=True,
    )
    fixed: list[Path] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        clean = text
        for spelling in spellings:
            clean = clean.replace(spelling, REDACTED)
        if clean != text:
            path.write_text(clean, encoding="utf-8")
            fixed.append(path)
    return fixed
