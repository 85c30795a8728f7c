"""Where the project's data directories are, installed or in a checkout.

In a wheel, ``openapi/``, ``contracts/`` and ``load/`` are bundled under
``qiibee_conformance/_bundled``; in an editable install they are read from the
repository root, so that an edit to the spec takes effect without reinstalling.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the directory ``name`` (``openapi``, ``contracts`` or ``load``)."""
    for candidate in (_PACKAGE.parent / name, _PACKAGE / "_bundled" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"cannot find the {name}/ directory of qiibee-conformance")


def spec_path() -> Path:
    return data_dir("openapi") / "qiibee.yaml"


def contracts_dir() -> Path:
    return data_dir("contracts")


def locustfile_path() -> Path:
    return data_dir("load") / "locustfile.py"
