"""Retrying failed files: a file that could not be read is read again on request although its
size and date did not change (a sync alone leaves it failed)."""

from __future__ import annotations

import os
from pathlib import Path

from memex.core.library import Library


def _same_stat_rewrite(path: Path, data: bytes) -> None:
    """Replace the bytes of ``path`` keeping its size and modification time."""
    before = path.stat()
    assert len(data) == before.st_size
    path.write_bytes(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_retry_reads_a_failed_file_again_that_a_sync_leaves_failed(tmp_path: Path, library: Library) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    good = b"The heron stood in the reeds at dawn."
    broken = folder / "notes.txt"
    broken.write_bytes(b"\x00" * len(good))  # NUL bytes: not text, so it fails
    (folder / "other.txt").write_text("Something else to read.", encoding="utf-8")
    report = library.index([folder])
    assert [Path(e.path).name for e in report.errors] == ["notes.txt"]

    _same_stat_rewrite(broken, good)
    library.index()  # a sync: size and date are unchanged, so the file stays failed
    assert [Path(f.path).name for f in library.failures()] == ["notes.txt"]
    assert not library.find("heron", mode="bm25").hits

    report = library.retry([broken])
    assert report.errors == ()
    assert library.failures() == []
    assert [Path(h.path).name for h in library.find("heron", mode="bm25").hits] == ["notes.txt"]


def test_retry_ignores_paths_that_are_not_failed_files(tmp_path: Path, library: Library) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "fine.txt").write_text("A file that reads well.", encoding="utf-8")
    library.index([folder])
    report = library.retry([folder / "fine.txt", tmp_path / "elsewhere.txt"])
    assert report.errors == ()
    assert [Path(d.path).name for d in library.documents()] == ["fine.txt"]
