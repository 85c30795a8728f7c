"""The last line of defence: no report file may contain the API key, in any spelling.

Everything is redacted where it is produced; this scan runs after all files are
written and rewrites any file in which a secret still appears (raw, JSON-escaped
or HTML-escaped), returning the files it had to fix so the caller can say so.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from pathlib import Path

from qiibee_conformance.redact import REDACTED


def _spellings(secret: str) -> set[str]:
    return {secret, html.escape(secret, quote=True), json.dumps(secret)[1:-1]}


def scrub_files(paths: Iterable[Path], secrets: Iterable[str]) -> list[Path]:
    """Redact every occurrence of every secret in the files; return the files that needed it."""
    spellings = sorted(
        {s for secret in secrets if secret and len(secret) >= 4 for s in _spellings(secret)},
        key=len,
        reverse=True,
    )
    fixed: list[Path] = []
    for path in paths:
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        clean = text
        for spelling in spellings:
            clean = clean.replace(spelling, REDACTED)
        if clean != text:
            path.write_text(clean, encoding="utf-8")
            fixed.append(path)
    return fixed
