"""Reading the two reports a diff compares, and writing its Markdown; every problem is one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qiibee_conformance.errors import RunError
from qiibee_conformance.paths import read_user_file
from qiibee_conformance.redact import Redactor
from qiibee_conformance.settings import api_key_from

TOOL = "qiibee-conformance"


def read_report(path: str) -> dict[str, Any]:
    """A certification report document; RunError (exit 2) if it is missing or is no such report."""
    text = read_user_file(path, "the report")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise RunError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from None
    if not isinstance(document, dict) or document.get("tool") != TOOL or "requirements" not in document:
        raise RunError(f"{path} is not a certification report (certification.json of certify)")
    return document


def scrubbed(text: str) -> str:
    """``text`` without the key of ``$QIIBEE_API_KEY`` (the reports never hold it; a second guard)."""
    return Redactor([api_key_from(None)]).text(text)


def write_text(path: str, text: str) -> Path:
    target = Path(path).expanduser()
    try:
        target.write_text(scrubbed(text), encoding="utf-8")
    except OSError as err:
        raise RunError(f"cannot write {path}: {err.strerror or err}") from None
    return target
