"""Commands from other distributions (entry point group ``memex.commands``): ``memex bench``
comes from memex-bench (tests/bench/) when it is installed, is absent when it is not, and a
plugin that cannot load is left out with one warning line while every other command works."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import EntryPoints
from pathlib import Path

import pytest
from memex.core.cli import plugins
from memex.core.cli.main import main

PLUGIN_MODULES = {
    "hello_plugin.py": '''
class Hello:
    help = "say hello"

    def add_arguments(self, parser):
        parser.add_argument("name")

    def run(self, args):
        print(f"hello {args.name} json={args.json} library={args.library}")
        return 3

command = Hello()
''',
    "clash_plugin.py": '''
class Clash:
    help = "clashes with --json"

    def add_arguments(self, parser):
        parser.add_argument("--json")

    def run(self, args):
        return 0

command = Clash()
''',
}
ENTRY_POINTS = """[memex.commands]
hello = hello_plugin:command
broken = memex_no_such_plugin_module:command
clashing = clash_plugin:command
notacommand = os:sep
search = hello_plugin:command
"""


def memex(*args: str, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), *filter(None, [env.get("PYTHONPATH")])])
    return subprocess.run([sys.executable, "-m", "memex.core", *args], capture_output=True, text=True,
                          timeout=120, env=env)


@pytest.fixture
def plugin_site(tmp_path: Path) -> Path:
    """A folder on PYTHONPATH with one distribution that declares good and broken commands."""
    site = tmp_path / "site"
    info = site / "memex_test_plugins-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: memex-test-plugins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    for name, text in PLUGIN_MODULES.items():
        (site / name).write_text(text)
    return site


def test_bench_comes_from_the_installed_memex_bench() -> None:
    listed = memex("--help")
    assert listed.returncode == 0 and listed.stderr == ""
    assert "bench     speed and memory benchmarks, each against a baseline" in listed.stdout
    bench = memex("bench", "--help")
    assert bench.returncode == 0, bench.stderr
    assert "{embed,rerank,indexing,latency,robustness,ocr,window,all}" in bench.stdout
    assert "default: bench/SUITE in Memex's cache" in " ".join(bench.stdout.split())  # not "a temp dir"


def test_without_the_plugin_there_is_no_bench_command(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(plugins, "entry_points", lambda group: EntryPoints(()))
    with pytest.raises(SystemExit) as shown:
        main(["--help"])
    assert shown.value.code == 0
    assert "bench" not in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        main(["bench", "latency"])
    assert refused.value.code == 2
    assert "invalid choice: 'bench'" in capsys.readouterr().err


def test_a_plugin_command_runs_with_the_common_options(plugin_site: Path, tmp_path: Path) -> None:
    proc = memex("hello", "world", "--json", "--library", str(tmp_path / "lib.db"), pythonpath=plugin_site)
    assert proc.returncode == 3  # what the command's run returned
    assert proc.stdout == f"hello world json=True library={tmp_path / 'lib.db'}\n"


def test_broken_plugins_are_left_out_with_one_line_each(plugin_site: Path, tmp_path: Path) -> None:
    proc = memex("--help", pythonpath=plugin_site)
    assert proc.returncode == 0
    assert proc.stderr.splitlines() == [
        "memex: warning: the command 'broken' from memex-test-plugins is left out: it failed to load "
        "(ModuleNotFoundError: No module named 'memex_no_such_plugin_module')",
        "memex: warning: the command 'clashing' from memex-test-plugins is left out: it failed to load "
        "(ArgumentError: argument --json: conflicting option string: --json)",
        "memex: warning: the command 'notacommand' from memex-test-plugins is left out: it failed to load "
        "(TypeError: os:sep has no help text, add_arguments and run)",
        "memex: warning: the command 'search' from memex-test-plugins is left out: a command of that name "
        "already exists",
    ]
    commands = {line.split()[0] for line in proc.stdout.splitlines() if line.startswith("    ")}
    assert {"hello", "bench", "search", "index"} <= commands
    assert not commands & {"broken", "clashing", "notacommand"}  # no half-added help line either

    status = memex("status", "--json", "--library", str(tmp_path / "lib.db"), pythonpath=plugin_site)
    assert status.returncode == 0, status.stderr  # the built-in commands still work
    assert status.stdout.startswith("{")
