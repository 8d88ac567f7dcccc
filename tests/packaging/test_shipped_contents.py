"""What Memex ships holds no benchmark and no test fixture: not the source of memex.core and
memex.desktop, not the wheel built from pyproject.toml, not the built app (dist/memex/).

The benchmarks (some crash or allocate gigabytes on purpose) live in their own distribution,
memex-bench (tests/bench/), which adds ``memex bench`` through an entry point when installed.
The app check runs only with MEMEX_PACKAGING=1, after packaging/build.sh, like test_frozen_app.py.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
SHIPPED_SOURCES = ("core", "desktop")
NOT_COPIED = ("__pycache__", ".git", ".venv", "build", "dist", "*.egg-info", ".*_cache")


def _fixture_module_names() -> set[str]:
    """Top-level names the test and fixture modules import by (conftest, hostile_files, …, and
    memex_bench for everything under tests/bench/)."""
    return {path.stem for path in TESTS.rglob("*.py") if "bench" not in path.relative_to(TESTS).parts} | {
        "tests", "memex_bench"}


def _bench_or_fixture(dotted: str, fixtures: set[str]) -> bool:
    """A module name (``a.b.c``) that belongs to the benchmarks or to the tests."""
    parts = dotted.split(".")
    return parts[0] in fixtures or (parts[0] == "memex" and any("bench" in part for part in parts))


def test_memex_sources_import_no_benchmark_code() -> None:
    offenders = []
    for folder in SHIPPED_SOURCES:
        assert not list((REPO / folder).rglob("bench*.py")) and not (REPO / folder / "bench").exists()
        for path in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
                offenders += [f"{path.relative_to(REPO)}: {name}" for name in names
                              if name.split(".")[0] == "memex_bench" or name.startswith("memex.core.bench")]
    assert offenders == []


def test_the_wheel_holds_no_benchmark_or_test_file(tmp_path: Path) -> None:
    """The wheel built from a copy of this tree (tests/ and tests/bench/ included)."""
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*NOT_COPIED))
    assert (source / "tests" / "bench" / "memex_bench" / "robustness.py").is_file()
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                            "--wheel-dir", str(tmp_path / "wheel"), str(source)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    [wheel] = (tmp_path / "wheel").glob("memex_desktop-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = next((archive.read(n).decode() for n in names if n.endswith("/entry_points.txt")), "")
    assert "memex/core/cli/main.py" in names and "memex/core/cli/plugins.py" in names  # it is Memex
    fixtures = _fixture_module_names()
    strays = [name for name in names if name.startswith("tests/")
              or (name.endswith(".py") and _bench_or_fixture(name[:-3].replace("/", "."), fixtures))]
    assert strays == []
    assert "memex.commands" not in entry_points  # `memex bench` comes only with memex-bench


@pytest.mark.skipif(os.environ.get("MEMEX_PACKAGING") != "1",
                    reason="checks the built app; set MEMEX_PACKAGING=1 after packaging/build.sh")
def test_the_built_app_holds_no_benchmark_or_test_module() -> None:
    pytest.importorskip("PyInstaller")
    from PyInstaller.archive.readers import pkg_archive_contents

    app_dir = Path(os.environ.get("MEMEX_APP_DIR") or REPO / "dist" / "memex")
    if not (app_dir / "memex").is_file():
        pytest.fail(f"no built app in {app_dir}: run bash packaging/build.sh first")
    modules = pkg_archive_contents(str(app_dir / "memex"))  # its PKG entries and the modules in its PYZ
    assert "memex.core.cli.main" in modules and "memex.core.cli.plugins" in modules  # the listing is real
    fixtures = _fixture_module_names()
    assert [name for name in modules if _bench_or_fixture(name, fixtures)] == []
    loose = [path.relative_to(app_dir).as_posix() for path in app_dir.rglob("*")]
    assert [p for p in loose if "memex_bench" in p or (p.startswith(("memex/", "_internal/memex/")) and "bench" in p)
            or (p.endswith(".py") and Path(p).stem in fixtures)] == []
