"""Query operators ("exact phrase", type:, in:, before:, after:): parsed without Qt, applied by
Library.find (so the window, the command line and the service all get them)."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest
from memex.core.search.operators import OperatorError, parse_operators, resolve_folder
from memex.core.types import SearchFilters


def test_operators_come_out_and_the_rest_is_searched():
    ops = parse_operators('budget type:PDF in:"my notes" "heat flux" after:2023 before:2024-03')
    assert ops.text == "budget heat flux"
    assert ops.phrases == ("heat flux",) and ops.kinds == ("pdf",) and ops.folder == "my notes"
    assert ops.after == datetime(2023, 1, 1).timestamp()
    assert ops.before == datetime(2024, 3, 1).timestamp()
    assert ops.found


def test_plain_text_and_half_typed_operators_stay_as_typed():
    for typed in ("C++ \"x", "type:", "hello-world", "ratio 3:2", "intype:pdf"):
        ops = parse_operators(typed)
        assert not ops.found and ops.text == " ".join(typed.split())


def test_types_take_extensions_and_everyday_names_in_any_case():
    assert parse_operators("type:htm type:Word,md").kinds == ("html", "docx", "markdown")


@pytest.mark.parametrize(("typed", "words"), [
    ("type:spreadsheetz", "known types: cbz, code"),
    ("before:31/03/2024", "YYYY-MM-DD"),
    ("after:2024-13", "YYYY-MM-DD"),
    ("after:2024 before:2023", "earlier date"),
])
def test_bad_values_are_refused_in_one_line(typed, words):
    with pytest.raises(OperatorError, match=words) as info:
        parse_operators(typed)
    assert "\n" not in str(info.value)


def test_typed_filters_narrow_the_chosen_ones():
    ops = parse_operators("x type:pdf after:2024")
    chosen = SearchFilters(folder="/a", kinds=("pdf", "docx"), modified_after=datetime(2020, 1, 1).timestamp())
    merged = ops.filters(chosen, "/a/b")
    assert merged.kinds == ("pdf",) and merged.folder == "/a/b"
    assert merged.modified_after == datetime(2024, 1, 1).timestamp()
    assert ops.filters(SearchFilters(folder="/a/b/c"), "/a").folder == "/a/b/c"  # the narrower one


def test_folders_resolve_by_name_path_or_inside_a_source(tmp_path: Path):
    (tmp_path / "work" / "reports").mkdir(parents=True)
    sources = [str(tmp_path / "work"), str(tmp_path / "Photos")]
    assert resolve_folder("WORK", sources) == str(tmp_path / "work")
    assert resolve_folder("reports", sources) == str(tmp_path / "work" / "reports")
    assert resolve_folder(str(tmp_path / "x"), sources) == str(tmp_path / "x")
    with pytest.raises(OperatorError, match="your folders: Photos, work"):
        resolve_folder("taxes", sources)


@pytest.fixture
def two_folders(tmp_path: Path, embedder):
    from memex.core.library import Library

    work, home = tmp_path / "work", tmp_path / "home"
    (work / "reports").mkdir(parents=True)
    home.mkdir()
    (work / "reports" / "heat.md").write_text("# Heat\n\nThe heat flux at the nose was measured twice.\n")
    (work / "flux.txt").write_text("Flux of heat: the nose cone and the measured data.\n")
    (home / "heat.txt").write_text("The heat flux of the oven bakes bread.\n")
    old = home / "old.txt"
    old.write_text("An old note about heat flux from long ago.\n")
    stamp = datetime(2019, 6, 1).timestamp()
    os.utime(old, (stamp, stamp))
    lib = Library.open(tmp_path / "lib.db", embedder=embedder)
    lib.index([str(work), str(home)])
    yield lib, work, home
    lib.close()


def _names(results) -> set[str]:
    return {os.path.basename(h.path) for h in results.hits}


def test_find_applies_every_operator(two_folders):
    lib, work, home = two_folders
    assert _names(lib.find('"heat flux"', 10)) == {"heat.md", "heat.txt", "old.txt"}  # not "flux of heat"
    assert _names(lib.find("heat flux type:markdown", 10)) == {"heat.md"}
    assert _names(lib.find("heat in:home", 10)) == {"heat.txt", "old.txt"}
    assert _names(lib.find("heat in:reports", 10)) == {"heat.md"}
    assert _names(lib.find("heat flux in:home before:2020", 10)) == {"old.txt"}
    assert "old.txt" not in _names(lib.find("heat flux after:2020", 10))
    results = lib.find('"heat flux" in:home', 10)
    assert results.query == '"heat flux" in:home'
    assert all("heat flux" in c.text.lower() for h in results.hits for c in h.chunks)
    with pytest.raises(OperatorError, match="in:garage"):
        lib.find("heat in:garage", 10)


@pytest.mark.slow
def test_the_command_line_takes_the_same_operators(tmp_path: Path):
    import json
    import subprocess
    import sys

    folder = tmp_path / "notes"
    (folder / "kitchen").mkdir(parents=True)
    (folder / "kitchen" / "bread.md").write_text("# Bread\n\nSourdough bread needs a lively starter.\n")
    (folder / "bread.txt").write_text("Bread from the shop, sliced.\n")
    script = Path(sys.executable).with_name("memex")
    library = str(tmp_path / "lib.db")

    def memex(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(script), *args], capture_output=True, text=True, timeout=180,
                              env={**os.environ, "NO_COLOR": "1"})

    assert memex("index", "--library", library, str(folder)).returncode == 0
    found = memex("search", "--library", library, "--json", "--no-rerank", "bread type:markdown in:kitchen")
    assert found.returncode == 0, found.stderr
    assert [os.path.basename(h["path"]) for h in json.loads(found.stdout)] == ["bread.md"]
    refused = memex("search", "--library", library, "bread before:31/12/2024")
    assert refused.returncode != 0 and "YYYY-MM-DD" in refused.stderr and "Traceback" not in refused.stderr
