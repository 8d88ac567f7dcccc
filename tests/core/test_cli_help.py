"""What ``memex`` says about itself and its arguments: the version, help for every argument,
file types and dates that are understood as typed (or refused in one line), the developer
commands listed apart, and indexing progress that a log file or pipe can hold."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from memex.core.cli.main import build_parser, main
from memex.core.types import IndexProgress

REPO = Path(__file__).resolve().parents[2]
CONTROL_BYTES = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")  # all but the line feed


def memex(*args: str) -> subprocess.CompletedProcess[str]:
    """``memex`` in a child process, its stdout and stderr piped (not a terminal)."""
    return subprocess.run([sys.executable, "-m", "memex.core", *args], capture_output=True, text=True,
                          timeout=180, env={**os.environ, "NO_COLOR": "1"})


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, subprocess.CompletedProcess[str]]:
    """A library of a text and a Markdown file, indexed with stderr piped."""
    root = tmp_path_factory.mktemp("cli_help")
    folder = root / "notes"
    folder.mkdir()
    (folder / "zebra.txt").write_text("Zebras graze on the savannah near the onions.\n")
    (folder / "soup.md").write_text("# Soup\n\nSimmer onions slowly in butter.\n")
    library = str(root / "lib.db")
    return library, memex("index", "--library", library, str(folder))


def search_names(library: str, *args: str) -> list[str]:
    proc = memex("search", "--library", library, "--json", "--mode", "bm25", "--no-rerank", *args, "onions")
    assert proc.returncode == 0, proc.stderr
    return sorted(Path(hit["path"]).name for hit in json.loads(proc.stdout))


# -- --type -------------------------------------------------------------------------------
@pytest.mark.parametrize("typed", ["md", "MD", "Markdown", ".md", "MARKDOWN"])
def test_type_takes_any_case_and_aliases(indexed, typed: str) -> None:
    library, _ = indexed
    assert search_names(library, "--type", typed) == ["soup.md"]


def test_type_aliases_name_the_real_kinds(indexed) -> None:
    library, _ = indexed
    assert search_names(library, "--type", "TXT", "--type", "text") == ["zebra.txt"]
    assert search_names(library, "--type", "htm", "--type", "Word", "--type", "PDF") == []
    assert search_names(library, "--type", "txt", "--type", "md") == ["soup.md", "zebra.txt"]


@pytest.mark.parametrize("json_mode", [[], ["--json"]])
def test_unknown_type_is_a_one_line_usage_error(indexed, json_mode: list[str]) -> None:
    library, _ = indexed
    proc = memex("search", "--library", library, *json_mode, "--type", "spreadsheetz", "onions")
    assert proc.returncode == 2 and proc.stdout == ""
    [line] = proc.stderr.splitlines()
    assert line.startswith("memex: ") and "spreadsheetz" in line
    assert all(kind in line for kind in ("pdf", "markdown", "html", "docx", "text"))


# -- dates --------------------------------------------------------------------------------
@pytest.mark.parametrize("option", ["--after", "--before"])
def test_bad_date_is_a_one_line_error_naming_the_format(indexed, option: str) -> None:
    library, _ = indexed
    proc = memex("search", "--library", library, option, "31/12/2024", "onions")
    assert proc.returncode == 2 and proc.stdout == ""
    [line] = proc.stderr.splitlines()
    assert option in line and "31/12/2024" in line and "YYYY-MM-DD" in line


def test_dates_still_filter(indexed) -> None:
    library, _ = indexed
    assert search_names(library, "--after", "2000-01-01") == ["soup.md", "zebra.txt"]
    assert search_names(library, "--before", "2000-01-01") == []


# -- help and version ---------------------------------------------------------------------
def test_version_is_the_distributions() -> None:
    proc = memex("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"memex {metadata.version('memex-desktop')}"


def test_version_falls_back_to_pyproject(monkeypatch: pytest.MonkeyPatch) -> None:
    from memex.core.cli import helptext

    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)  # helptext reads it when asked
    declared = re.search(r'^version = "(.+)"', (REPO / "pyproject.toml").read_text(), re.M)
    assert declared is not None
    assert helptext.memex_version() == declared.group(1) != "unknown"


def _command_parsers(parser: argparse.ArgumentParser, path: str = "memex"):
    """(``memex search``, its parser) for every built-in command and action, nested ones too."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                if child.get_default("plugin_run") is None:  # plugins bring their own help
                    yield f"{path} {name}", child
                    yield from _command_parsers(child, f"{path} {name}")


def test_every_positional_and_mode_has_help() -> None:
    parsers = dict(_command_parsers(build_parser()))
    assert {"memex search", "memex remove", "memex models download", "memex models use"} <= set(parsers)
    for name, parser in parsers.items():
        for action in parser._actions:
            positional = not action.option_strings and not isinstance(action, argparse._SubParsersAction)
            if positional or "--mode" in action.option_strings:
                assert action.help and action.help != argparse.SUPPRESS, (name, action.dest)


def _help(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as shown:
        main([*args, "--help"])
    assert shown.value.code == 0
    return capsys.readouterr().out


def test_after_and_before_help_say_the_date_format(capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(_help(capsys, "search").split())
    assert "--after YYYY-MM-DD" in text and "--before YYYY-MM-DD" in text


@pytest.mark.parametrize("command", [["models", "download"], ["models", "import"]])
def test_no_library_option_where_it_means_nothing(capsys: pytest.CaptureFixture[str],
                                                  command: list[str]) -> None:
    text = _help(capsys, *command)
    assert "--library" not in text and "--json" in text
    with pytest.raises(SystemExit) as refused:
        main([*command, "--library", "x.db", "somename"])
    assert refused.value.code == 2


@pytest.mark.parametrize("command", [["index"], ["search"], ["status"], ["remove"], ["doctor"], ["eval"],
                                     ["gui"], ["models", "list"], ["models", "remove"], ["models", "use"]])
def test_library_option_stays_where_it_is_used(capsys: pytest.CaptureFixture[str],
                                               command: list[str]) -> None:
    assert "--library PATH" in _help(capsys, *command)


def test_developer_commands_are_listed_apart(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys)
    user, _, developer = text.partition("developer commands:")
    assert developer, text
    listed = {line.split()[0] for line in user.splitlines() if line.startswith("    ")}
    assert {"index", "search", "status", "remove", "doctor", "models", "gui"} <= listed
    assert "eval" not in listed
    assert ("    eval      evaluate retrieval on a BEIR collection, or on a folder of real files with "
            "--known-items") in developer.splitlines()


# -- progress without a terminal ----------------------------------------------------------
def test_index_into_a_pipe_writes_plain_phase_lines(indexed) -> None:
    _, proc = indexed
    assert proc.returncode == 0, proc.stderr
    assert not CONTROL_BYTES.search(proc.stderr), repr(proc.stderr)
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("Scanning")
    assert any(re.fullmatch(r"Indexing: \d+ of 2 files, \d+ passages, \d+ embedded, 0 failed", line)
               for line in lines), lines
    assert "Done: 2 of 2 files, 2 passages, 2 embedded, 0 failed" in lines
    assert proc.stdout.startswith("Indexed in ")


def test_index_json_keeps_stderr_quiet(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Quiet please.\n")
    proc = memex("index", "--library", str(tmp_path / "lib.db"), "--json", str(tmp_path / "a.txt"))
    assert proc.returncode == 0 and proc.stderr == ""
    assert json.loads(proc.stdout)["added"] == 1


def test_plain_progress_says_each_phase_and_then_at_most_every_interval() -> None:
    import io

    from memex.core.cli.output import PlainProgress

    stream = io.StringIO()
    log = PlainProgress(stream, every=3600)
    log(IndexProgress("scanning"))
    for done in range(1, 50):
        log(IndexProgress("indexing", 1000, done, chunks_written=done * 20))
        if done % 5 == 0:  # a batch of vectors between two files: no line each time
            log(IndexProgress("embedding", 1000, done, done * 20, done * 10))
    log(IndexProgress("embedding", 1000, 1000, 20_000, 2_400))
    log(IndexProgress("done", 1000, 1000, 20_000, 20_000))
    assert stream.getvalue().splitlines() == [
        "Scanning: looking for files to index",
        "Indexing: 1 of 1,000 files, 20 passages, 0 embedded, 0 failed",
        "Embedding: 5 of 1,000 files, 100 passages, 50 embedded, 0 failed",
        "Done: 1,000 of 1,000 files, 20,000 passages, 20,000 embedded, 0 failed",
    ]
    every_time = io.StringIO()
    log = PlainProgress(every_time, every=0)
    for done in range(1, 4):
        log(IndexProgress("indexing", 3, done))
    assert len(every_time.getvalue().splitlines()) == 3


def test_memex_gui_takes_the_windows_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``memex gui`` hands the window what ``memex-gui`` takes: paths, --library, --minimized."""
    from memex.desktop import app

    handed: list[list[str]] = []
    monkeypatch.setattr(app, "main", lambda argv: handed.append(list(argv)) or 0)
    library = str(tmp_path / "lib.db")
    assert main(["gui", "--minimized", "--library", library, str(tmp_path)]) == 0
    assert handed == [[str(tmp_path), "--library", library, "--minimized"]]
    assert app.parse_args(handed[0]).minimized
