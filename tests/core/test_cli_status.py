"""``memex status`` and a re-run of ``memex index`` tell the truth about files that failed in an
earlier run: named, with the reason in plain words, and counted for the whole library."""

from __future__ import annotations

import json

import pytest
from test_cli import memex

HOSTILE = "ev\x1b]0;owned\x07il\nname.pdf"  # an escape sequence and a line break in a file name


@pytest.fixture(scope="module")
def reindexed(tmp_path_factory):
    """A folder with a good note, a truncated PDF and a hostile name, indexed twice."""
    root = tmp_path_factory.mktemp("status")
    folder = root / "notes"
    folder.mkdir()
    (folder / "soup.md").write_text("# Soup\n\nSimmer onions slowly in butter.\n")
    (folder / "truncated.pdf").write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog")
    (folder / HOSTILE).write_bytes(b"\x00\x01\x02 not a pdf \xff\xfe")
    library = root / "lib.db"
    memex("index", "--library", str(library), str(folder))
    second = memex("index", "--library", str(library))  # a re-sync: nothing changed
    return library, folder, second.stdout


def test_second_index_run_says_how_many_files_are_still_failed(reindexed):
    _, folder, out = reindexed
    assert " 0 failed" in out  # this run failed nothing new
    assert "2 files in the library could not be read (see memex status)." in out
    assert f"  {folder / 'truncated.pdf'}: damaged (" in out


def test_status_names_each_failed_file_with_its_reason(reindexed):
    library, folder, _ = reindexed
    out = memex("status", "--library", str(library)).stdout
    assert "Could not be read (2 files):" in out
    assert f"  {folder / 'truncated.pdf'}: damaged (" in out


def test_hostile_file_name_is_printed_escaped(reindexed):
    library, folder, second = reindexed
    shown = f"{folder}/ev\\x1b]0;owned\\x07il\\nname.pdf: damaged ("
    for out in (second, memex("status", "--library", str(library)).stdout):
        assert shown in out
        assert "\x1b" not in out and "\x07" not in out
        assert not any(line.startswith("il") or line.startswith("name.pdf") for line in out.splitlines())


def test_status_json_lists_failed_files_and_keeps_its_keys(reindexed):
    library, folder, _ = reindexed
    status = json.loads(memex("status", "--library", str(library), "--json").stdout)
    assert {"path", "size_bytes", "documents", "failed", "chunks", "sources"} <= set(status)
    assert status["documents"] == 1 and status["failed"] == 2
    assert status["sources"][0]["path"] == str(folder)
    by_path = {f["path"]: f for f in status["failed_files"]}
    assert set(by_path) == {str(folder / "truncated.pdf"), str(folder / HOSTILE)}  # exact, unescaped
    assert all(set(f) == {"path", "reason", "message"} for f in status["failed_files"])
    assert by_path[str(folder / "truncated.pdf")]["reason"] == "corrupt"


def test_index_json_adds_failed_in_library(reindexed):
    library, _, _ = reindexed
    report = json.loads(memex("index", "--library", str(library), "--json").stdout)
    assert report["failed"] == 0 and report["failed_in_library"] == 2
    assert {"added", "updated", "unchanged", "errors", "chunks", "seconds"} <= set(report)


def test_status_shows_the_first_files_and_failed_lists_all(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(23):
        (folder / f"bad{i:02}.pdf").write_bytes(b"%PDF-1.7 garbage")
    library = tmp_path / "lib.db"
    first = memex("index", "--library", str(library), str(folder)).stdout
    assert "23 files in the library could not be read (see memex status)." in first
    short = memex("status", "--library", str(library)).stdout
    assert sum(": damaged (" in line for line in short.splitlines()) == 20
    assert "  … and 3 more (memex status --failed for all)" in short
    full = memex("status", "--library", str(library), "--failed").stdout
    assert sum(": damaged (" in line for line in full.splitlines()) == 23
    assert "more (memex status --failed" not in full
