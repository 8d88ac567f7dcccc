"""Every entry a scan passes over is counted and listed with why, kept in the library across a
restart, and leaves the list when the file goes away or becomes readable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from memex.core.library import Library

TEXT = "The kestrel hovered over the stubble field at noon."


def reasons(entries) -> dict[str, tuple[str, str]]:
    return {os.path.basename(e.path): (e.reason, e.message) for e in entries}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder holding one of each kind of entry a scan passes over, and one file it reads."""
    root = tmp_path / "notes"
    root.mkdir()
    (root / "heron.txt").write_text("The heron stood in the reeds at dawn.\n")
    (root / "data.xyz").write_bytes(b"\x00\x01binary\xff\xfe" * 50)
    (root / "kestrel.xyz").write_text(TEXT)  # text, but of a type Memex does not read
    os.mkfifo(root / "pipe")
    (root / ".hidden-notes.txt").write_text("Nobody reads this.")
    (root / "draft.tmp").write_text("Left behind by an editor.")
    (root / "node_modules").mkdir()
    (root / "node_modules" / "left-pad.js").write_text("module.exports = 1;")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.txt").write_text("Outside the folder.")
    (root / "secret-link.txt").symlink_to(outside / "secret.txt")
    return root


def test_each_skipped_entry_is_counted_and_listed_with_why(library: Library, folder: Path):
    report = library.index([folder])
    assert report.added == 1 and report.failed == 1  # heron.txt read; the outside link failed
    assert report.files_skipped == 6  # two types not read, the pipe, a hidden file, two ignored
    listed = reasons(library.skipped_files())
    assert listed == {
        "data.xyz": ("unsupported", "This type of file is not supported (.xyz)"),
        "kestrel.xyz": ("unsupported", "This type of file is not supported (.xyz)"),
        "pipe": ("not-a-file", "Not a regular file (a named pipe): there is nothing to read"),
    }
    everything = reasons(library.skipped_files(on_purpose=True))
    assert everything.keys() == listed.keys() | {".hidden-notes.txt", "draft.tmp", "node_modules"}
    assert everything[".hidden-notes.txt"][0] == "hidden"
    assert everything["draft.tmp"] == ("ignored", "Matches the ignore pattern *.tmp")
    assert everything["node_modules"][0] == "ignored" and "nothing in this folder" in everything["node_modules"][1]
    assert library.skipped_counts() == {"unsupported": 2, "not-a-file": 1, "hidden": 1, "ignored": 2}
    # The link leading out is a failed file, listed once, not also skipped.
    assert [(os.path.basename(f.path), f.reason) for f in library.failures()] == [("secret-link.txt", "outside-link")]


def test_the_list_survives_a_restart_and_follows_the_disk(open_library, folder: Path):
    library = open_library()
    library.index([folder])
    library.close()
    library = open_library()
    assert set(reasons(library.skipped_files())) == {"data.xyz", "kestrel.xyz", "pipe"}

    os.remove(folder / "pipe")
    (folder / "kestrel.xyz").rename(folder / "kestrel.txt")
    report = library.index()
    assert report.files_skipped == 4 and report.added == 1
    assert set(reasons(library.skipped_files())) == {"data.xyz"}
    assert [os.path.basename(h.path) for h in library.search("kestrel stubble", k=3, mode="bm25")] == ["kestrel.txt"]
    assert library.skipped_counts() == {"unsupported": 1, "hidden": 1, "ignored": 2}


def test_a_refresh_of_changed_paths_updates_the_list(library: Library, folder: Path):
    """What the folder watcher calls: a renamed file and a deleted one, by path."""
    library.index([folder])
    (folder / "data.xyz").rename(folder / "data.bin")
    (folder / "kestrel.xyz").rename(folder / "kestrel.md")
    os.remove(folder / "draft.tmp")
    report = library.refresh([folder / "data.xyz", folder / "data.bin", folder / "kestrel.xyz",
                              folder / "kestrel.md", folder / "draft.tmp"])
    assert report.added == 1 and report.files_skipped == 1
    assert reasons(library.skipped_files(on_purpose=True)) == {
        "data.bin": ("unsupported", "This type of file is not supported (.bin)"),
        "pipe": ("not-a-file", "Not a regular file (a named pipe): there is nothing to read"),
        ".hidden-notes.txt": ("hidden", "Hidden (the name starts with a dot)"),
        "node_modules": ("ignored", "Matches the ignore pattern node_modules; nothing in this folder is indexed"),
    }


def test_settings_change_what_is_skipped_on_the_next_scan(open_library, folder: Path):
    from memex.core.config import Settings

    library = open_library()
    library.index([folder])
    library.update_settings(Settings(index_hidden=True, ignore=()))
    report = library.index()
    assert report.added == 2  # the hidden file and the .js file; the editor's .tmp is a type not read
    assert library.skipped_counts() == {"unsupported": 3, "not-a-file": 1}


def test_a_source_added_by_name_is_not_listed_as_skipped(library: Library, folder: Path):
    hidden = folder / ".journal"
    hidden.mkdir()
    (hidden / "day.txt").write_text("A quiet day.")
    library.index([folder, hidden])
    names = set(reasons(library.skipped_files(on_purpose=True)))
    assert ".journal" not in names and ".hidden-notes.txt" in names
    assert library.document(hidden / "day.txt") is not None


def test_a_single_file_source_of_an_unread_type_is_listed(library: Library, folder: Path):
    report = library.index([folder / "data.xyz"])
    assert report.added == 0 and report.files_skipped == 1
    assert reasons(library.skipped_files()) == {
        "data.xyz": ("unsupported", "This type of file is not supported (.xyz)")}


def test_a_broken_link_and_a_name_that_is_not_utf8_are_listed(library: Library, tmp_path: Path):
    root = tmp_path / "odd"
    root.mkdir()
    (root / "gone.txt").symlink_to(root / "nowhere.txt")
    with open(os.path.join(os.fsencode(root), b"caf\xe9.txt"), "wb") as fh:  # Latin-1, not UTF-8
        fh.write(b"An old archive's file name.")
    report = library.index([root])
    assert report.files_skipped == 2
    assert reasons(library.skipped_files()) == {
        "gone.txt": ("broken-link", "A link to something that is not there"),
        "caf\ufffd.txt": ("bad-name", "The file name is not valid UTF-8; rename the file to index it"),
    }


def test_removing_a_source_forgets_its_skipped_files(library: Library, folder: Path):
    library.index([folder])
    library.remove(folder)
    assert library.skipped_files(on_purpose=True) == [] and library.skipped_counts() == {}


def test_a_folder_that_cannot_be_opened_is_listed_until_it_can(library: Library, folder: Path):
    locked = folder / "locked"
    locked.mkdir()
    (locked / "inside.txt").write_text("Behind a closed door.")
    locked.chmod(0)
    if os.access(locked, os.R_OK):  # root, with the right to read any folder
        locked.chmod(0o755)
        pytest.skip("this user may open every folder")
    try:
        library.index([folder])
        assert reasons(library.skipped_files())["locked"][0] == "unreadable-folder"
    finally:
        locked.chmod(0o755)
    library.index()
    assert "locked" not in reasons(library.skipped_files())
    assert library.document(locked / "inside.txt") is not None


def memex(*args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("memex")
    proc = subprocess.run([str(script), *args], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "NO_COLOR": "1", "MEMEX_NO_SERVICE": "1"})
    assert proc.returncode == 0, proc.stderr
    return proc


def test_the_command_line_counts_and_lists_them(tmp_path: Path, folder: Path):
    weird = folder / "bell\x07\x1b[31mred.xyz"
    weird.write_bytes(b"\x00")
    library = str(tmp_path / "cli.db")
    out = memex("index", "--library", library, str(folder)).stdout
    assert ("7 files skipped (3 not a supported type, 1 not a regular file, 3 hidden or ignored on purpose)"
            " — memex skipped lists them.") in out
    listing = memex("skipped", "--library", library).stdout
    assert "4 files passed over without being read:" in listing
    assert f"  {folder / 'data.xyz'}: This type of file is not supported (.xyz)" in listing
    assert "\x1b" not in listing and "\x07" not in listing and "bell\\x07\\x1b[31mred.xyz" in listing
    assert "3 more were skipped on purpose" in listing and "draft.tmp" not in listing
    assert "draft.tmp: Matches the ignore pattern *.tmp" in memex("skipped", "--all", "--library", library).stdout
    data = json.loads(memex("skipped", "--json", "--library", library).stdout)
    assert data["counts"] == {"unsupported": 3, "not-a-file": 1, "hidden": 1, "ignored": 2}
    assert {"path": str(folder / "pipe"), "reason": "not-a-file",
            "message": "Not a regular file (a named pipe): there is nothing to read"} in data["skipped_files"]
    assert json.loads(memex("index", "--json", "--library", library).stdout)["files_skipped"] == 7


def test_the_index_line_says_what_it_knows():
    from memex.core.cli.skipped import format_skipped, report_line

    assert report_line(0, {}) is None
    assert report_line(3, {"hidden": 1, "ignored": 2}) == (
        "3 files skipped (3 hidden or ignored on purpose) — memex skipped --all lists them.")
    assert report_line(1, {"unreadable-folder": 1}) == (
        "1 file skipped (1 folder that cannot be opened) — memex skipped lists them.")
    # Through a running service the breakdown is not at hand; a count that does not add up is not shown.
    assert report_line(5, None) == "5 files skipped — memex skipped lists them."
    assert report_line(2, {"unsupported": 5}) == "2 files skipped — memex skipped lists them."
    assert format_skipped([], {"hidden": 1}, everything=False) == [
        "Only what your settings leave out was skipped: 1 hidden or matching an ignore pattern "
        "(memex skipped --all lists them)."]
    assert format_skipped([], {}, everything=False)[0].startswith("Nothing was skipped")
