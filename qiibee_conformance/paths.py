"""Where the project's data directories are, installed or in a checkout.

In a wheel, ``openapi/``, ``contracts/`` and ``load/`` are bundled under
``qiibee_conformance/_bundled``; in an editable install they are read from the
repository root, so that an edit to the spec takes effect without reinstalling.
"""

from __future__ import annotations

from pathlib import Path

from qiibee_conformance.errors import RunError

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


def read_user_file(path: str | Path, what: str, *, when_missing: str = "") -> str:
    """The UTF-8 text of a file the user named (a config, a baseline, a report); RunError, one
    line naming ``what`` and the file, when it is missing or unreadable."""
    try:
        return Path(path).expanduser().read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunError(f"{what} {path} does not exist{when_missing}") from None
    except UnicodeDecodeError:
        raise RunError(f"{what} {path} is not UTF-8 text") from None
    except OSError as err:
        raise RunError(f"cannot read {what} {path}: {err.strerror or err}") from None
