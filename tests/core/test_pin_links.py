"""The links a read hands the extraction process live in a private folder in memory when the
system has one (a link on a disk costs a journal write per file), and never in a folder that
others may write to."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from memex.core.indexing import file_access
from memex.core.indexing.file_access import PinnedFile, pin_folder

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="links to /proc/<pid>/fd")


@pytest.fixture(autouse=True)
def fresh_choice():
    file_access._links_base.cache_clear()
    yield
    file_access._links_base.cache_clear()


def test_a_pinned_file_is_read_through_a_private_link_in_memory(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    note = tmp_path / "note.txt"
    note.write_text("pinned words", encoding="utf-8")
    with PinnedFile(str(note)) as pin:
        folder = Path(pin.path).parent
        assert Path(pin.path).name == "note.txt" and Path(pin.path).read_text(encoding="utf-8") == "pinned words"
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        if file_access._in_memory("/dev/shm"):
            assert folder.parent == Path("/dev/shm")
    assert not folder.exists()


def test_a_runtime_folder_others_may_write_to_is_not_used(tmp_path, monkeypatch):
    if not file_access._in_memory("/dev/shm"):
        pytest.skip("no tmpfs at /dev/shm")
    shared = Path(pin_folder())  # in memory, made by this test
    try:
        os.chmod(shared, 0o777)  # anyone may write, no sticky bit
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(shared))
        assert file_access._links_base() == "/dev/shm"
        file_access._links_base.cache_clear()
        os.chmod(shared, 0o700)  # ours alone: taken
        assert file_access._links_base() == str(shared)
        file_access._links_base.cache_clear()
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # private, but on a disk
        assert file_access._links_base() == "/dev/shm"
    finally:
        os.rmdir(shared)


def test_without_a_folder_in_memory_links_go_to_the_temporary_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setattr(file_access, "_in_memory", lambda path: False)
    folder = Path(pin_folder())
    try:
        assert folder.parent == Path(file_access.tempfile.gettempdir())
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    finally:
        folder.rmdir()
