"""The code stays ruff- and mypy-clean: both are configured in pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PY_DIRS = ["qiibee_conformance", "contracts", "load", "tests", "bench"]


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent))
    if path is None:
        pytest.fail(f"{name} is not installed in this environment: install the 'test' extra")
    return path


def test_ruff_clean() -> None:
    dirs = [d for d in PY_DIRS if (ROOT / d).is_dir()]
    result = _run([_tool("ruff"), "check", *dirs])
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_consistent_imports() -> None:
    # Import order is part of `ruff check` (rule I); this guards against the
    # config silently dropping it.
    result = _run([_tool("ruff"), "check", "--select", "I", "qiibee_conformance"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_clean() -> None:
    result = _run([_tool("mypy")])
    assert result.returncode == 0, result.stdout + result.stderr
