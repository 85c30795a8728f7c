"""The layers ARCHITECTURE.md states, held by walking the runtime imports of the package.

Imports under ``if TYPE_CHECKING:`` are left out (they are not run); imports inside
functions count (they are). Each rule is a pair (who, what it must not import); the
checker itself is tested on a made-up violation, so a rule cannot pass by not looking.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "qiibee_conformance"
ROOT = "qiibee_conformance"

PLUMBING = (
    "client", "transport", "evidence", "findings", "errors", "redact", "settings", "spec", "money",
    "discovery", "envelopes", "times", "polling", "reconcile", "requirements", "targets", "paths",
    "preflight", "embedded", "run_control",
)  # fmt: skip
CHECK_GROUPS = (
    "auth", "errors", "users", "memberships", "whitelist", "balances", "exchange", "nft", "settlement",
    "history", "concurrency",
)  # fmt: skip


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, level: int, name: str | None, is_package: bool) -> str:
    if level == 0:
        return name or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def runtime_imports(path: Path, package: Path = PACKAGE) -> set[str]:
    """The modules ``path`` imports when it runs (and ``module.name`` for ``from module import name``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = _module_name(path, package)
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and _is_type_checking(node):
                visit(node.orelse)
                continue
            for child in ast.walk(node) if not isinstance(node, ast.If) else [node]:
                if isinstance(child, ast.Import):
                    found.update(alias.name for alias in child.names)
                elif isinstance(child, ast.ImportFrom):
                    target = _resolve(module, child.level, child.module, is_package)
                    found.add(target)
                    found.update(f"{target}.{alias.name}" for alias in child.names)
            if isinstance(node, ast.If):
                visit(node.body)
                visit(node.orelse)

    visit(tree.body)
    return found


def package_imports(package: Path = PACKAGE) -> dict[str, set[str]]:
    return {_module_name(p, package): runtime_imports(p, package) for p in sorted(package.rglob("*.py"))}


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(
    imports: dict[str, set[str]], who: str, forbidden: tuple[str, ...], *, except_: tuple[str, ...] = ()
) -> Iterator[str]:
    """``module imports target`` for every module under ``who`` importing a module under ``forbidden``."""
    for module, targets in imports.items():
        if not _within(module, who):
            continue
        for target in sorted(targets):
            if any(_within(target, f) for f in forbidden) and not any(_within(target, e) for e in except_):
                yield f"{module} imports {target}"


IMPORTS = package_imports()


def test_the_mock_imports_nothing_of_the_suite() -> None:
    found = list(violations(IMPORTS, f"{ROOT}.mock", (ROOT,), except_=(f"{ROOT}.mock",)))
    assert found == []


def test_reports_do_not_import_runners() -> None:
    runners = (f"{ROOT}.certify.runner", f"{ROOT}.certify.session", f"{ROOT}.certify.plugin",
               f"{ROOT}.certify.cli", f"{ROOT}.loadtest.runner", f"{ROOT}.loadtest.cli")  # fmt: skip
    assert list(violations(IMPORTS, f"{ROOT}.certify.reports", runners)) == []
    assert list(violations(IMPORTS, f"{ROOT}.loadtest.report", runners)) == []
    assert list(violations(IMPORTS, f"{ROOT}.diffing", runners)) == []


def test_check_modules_do_not_import_each_other() -> None:
    groups = tuple(f"{ROOT}.checks.{g}" for g in CHECK_GROUPS)
    found = [
        line
        for group in groups
        for line in violations(IMPORTS, group, tuple(g for g in groups if g != group))
    ]
    assert found == []


def test_layers_point_one_way() -> None:
    upper = tuple(f"{ROOT}.{name}" for name in ("checks", "certify", "loadtest", "fuzzing", "cli", "mock"))
    for name in PLUMBING:
        assert list(violations(IMPORTS, f"{ROOT}.{name}", upper)) == [], name
    runners = tuple(f"{ROOT}.{name}" for name in ("certify", "loadtest", "fuzzing", "cli"))
    assert list(violations(IMPORTS, f"{ROOT}.checks", runners)) == []
    not_for_fuzzing = (f"{ROOT}.certify", f"{ROOT}.loadtest", f"{ROOT}.checks")
    assert list(violations(IMPORTS, f"{ROOT}.fuzzing", not_for_fuzzing)) == []
    assert list(violations(IMPORTS, f"{ROOT}.loadtest", (f"{ROOT}.certify", f"{ROOT}.checks"))) == []


def test_every_plumbing_module_exists() -> None:
    missing = [name for name in PLUMBING if f"{ROOT}.{name}" not in IMPORTS]
    assert missing == []


@pytest.mark.parametrize(
    ("source", "broken"),
    [
        ("from qiibee_conformance.client import ApiClient\n", True),
        ("import qiibee_conformance.checks.base\n", True),
        ("def f():\n    from qiibee_conformance.errors import RunError\n", True),
        ("import typing\nif typing.TYPE_CHECKING:\n    from qiibee_conformance.client import X\n", False),
        ("from qiibee_conformance.mock import store\nfrom . import state\n", False),
    ],
)
def test_the_checker_sees_a_violation(tmp_path: Path, source: str, broken: bool) -> None:
    package = tmp_path / "qiibee_conformance"
    (package / "mock").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "mock" / "__init__.py").write_text("")
    (package / "mock" / "app.py").write_text(source)
    imports = package_imports(package)
    found = list(violations(imports, f"{ROOT}.mock", (ROOT,), except_=(f"{ROOT}.mock",)))
    assert bool(found) is broken, found
