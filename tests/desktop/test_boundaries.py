"""The window reaches the core through its doors only, and the core never reaches for Qt.

Both read the source with ``ast`` (nothing is imported), so a lazy import inside a function
counts as much as one at the top of a file."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DESKTOP = ROOT / "desktop"
CORE = ROOT / "core"

# The façade, the module for what needs no open library (see its docstring), and the
# modules that hold only values or pure helpers.
DESKTOP_MAY_IMPORT = {
    "memex.core.library",
    "memex.core.api",
    "memex.core.types",
    "memex.core.errors",
    "memex.core.config",
    "memex.core.display_text",
    "memex.core.humanize",
}
QT_PACKAGES = {"PySide6", "PySide2", "PyQt5", "PyQt6", "shiboken6", "shiboken2", "qtpy", "sip"}


def imported_modules(path: Path, package: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``; ``from X import y`` also
    yields ``X.y`` (``y`` may be a module). ``package`` resolves relative imports."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None))
              in ("import_module", "__import__") and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.args[0].value))
    return found


def _core_import_outside_doors(module: str) -> bool:
    if module != "memex.core" and not module.startswith("memex.core."):
        return False
    if module == "memex.core":
        return False  # the package itself (`from memex.core import api`: the name is checked too)
    return not any(module == allowed or module.startswith(allowed + ".") for allowed in DESKTOP_MAY_IMPORT)


def test_desktop_imports_only_the_facade_and_public_core_modules():
    files = sorted(DESKTOP.glob("*.py"))
    assert len(files) > 20  # the window's files were found
    wrong = [f"desktop/{path.name}:{line}: {module}"
             for path in files for line, module in imported_modules(path, "memex.desktop")
             if _core_import_outside_doors(module)]
    assert wrong == [], "desktop/ imports core internals; go through Library or memex.core.api:\n" + \
        "\n".join(wrong)


def test_every_door_exists_and_says_what_it_offers():
    import importlib

    for name in DESKTOP_MAY_IMPORT:
        importlib.import_module(name)
    api = importlib.import_module("memex.core.api")
    assert api.__doc__ and "Library" in api.__doc__
    assert all(hasattr(api, name) for name in api.__all__)


@pytest.mark.parametrize("source, bad", [
    ("from memex.core.models.download import download_model", True),
    ("import memex.core.store.documents", True),
    ("from ..core.indexing import watcher", True),
    ("from memex.core import library, models", True),
    ("importlib.import_module('memex.core.search.query')", True),
    ("from memex.core.api import download_model", False),
    ("from memex.core.library import Library", False),
    ("from memex.core.types import Hit", False),
    ("from . import fmt", False),
])
def test_the_boundary_check_sees_every_kind_of_import(tmp_path, source, bad):
    path = tmp_path / "sample.py"
    path.write_text(source + "\n", encoding="utf-8")
    found = [m for _, m in imported_modules(path, "memex.desktop") if _core_import_outside_doors(m)]
    assert bool(found) is bad, found


def test_core_never_imports_qt():
    files = sorted(CORE.rglob("*.py"))
    assert len(files) > 50
    wrong = []
    for path in files:
        package = "memex.core." + ".".join(path.relative_to(CORE).parent.parts)
        for line, module in imported_modules(path, package.rstrip(".")):
            if module.split(".")[0] in QT_PACKAGES:
                wrong.append(f"core/{path.relative_to(CORE)}:{line}: {module}")
    assert wrong == [], "core/ must not import Qt:\n" + "\n".join(wrong)
