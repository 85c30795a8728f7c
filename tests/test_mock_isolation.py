"""The mock is a separate component: it imports nothing of the suite, not even its errors."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import qiibee_conformance.mock

MOCK_DIR = Path(qiibee_conformance.mock.__file__).resolve().parent


def _suite_imports(path: Path) -> list[str]:
    """Modules of qiibee_conformance outside the mock that ``path`` imports (anywhere in it)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            base = node.module or ""
            names = [f"{base}.{alias.name}" if base == "qiibee_conformance" else base for alias in node.names]
        found += [
            n for n in names
            if n.split(".")[0] == "qiibee_conformance" and not n.startswith("qiibee_conformance.mock")
        ]
    return found


def test_no_mock_module_imports_the_suite() -> None:
    modules = sorted(MOCK_DIR.glob("*.py"))
    assert len(modules) > 10
    assert {p.name: _suite_imports(p) for p in modules if _suite_imports(p)} == {}


def test_loading_the_whole_mock_loads_no_suite_module() -> None:
    stems = [p.stem for p in sorted(MOCK_DIR.glob("*.py")) if p.stem != "__main__"]
    names = [f"qiibee_conformance.mock.{stem}" for stem in stems]
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.startswith('qiibee_conformance')"
        " and not m.startswith('qiibee_conformance.mock')))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.strip() == "['qiibee_conformance']"  # the package root only (its __init__)
