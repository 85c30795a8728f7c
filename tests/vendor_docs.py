"""The vendor's documents, for the few tests that hold our quotes against them.

They are the vendor's and stay outside the repository: found at $QIIBEE_API_DOCS, else at
``<repo>/../shared/api-docs`` (as CI lays them out). Without either, a test that needs them
is skipped with a one-line reason; every other test stands on files inside the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The documents by the title DECISIONS.md, the spec and the requirement catalogue use.
DOC_FILES = {"Users API": "users-api.txt", "Points Exchange API": "points-exchange-api.txt"}


def api_docs_dir() -> Path | None:
    """Where the vendor documents are: $QIIBEE_API_DOCS, else ../shared/api-docs beside the repo."""
    configured = os.environ.get("QIIBEE_API_DOCS")
    if configured:
        return Path(configured)
    beside = REPO.parent / "shared" / "api-docs"
    return beside if beside.is_dir() else None


def vendor_texts() -> dict[str, str]:
    """The documents' texts by title; skips the calling test when they are not at hand."""
    docs = api_docs_dir()
    if docs is None:
        pytest.skip("vendor API documents not found: set QIIBEE_API_DOCS or place them in ../shared/api-docs")
    missing = [name for name in DOC_FILES.values() if not (docs / name).is_file()]
    if missing:
        pytest.fail(f"QIIBEE_API_DOCS={docs} lacks {', '.join(missing)}")
    return {title: (docs / name).read_text(encoding="utf-8") for title, name in DOC_FILES.items()}


def normalised(text: str) -> str:
    return " ".join(text.split())
