"""An indexing run detects each file's kind once (the scan's, passed on to the read and to the
extraction child) and hashes each file once (a new file hashed while looking for moved files
is not hashed again at the read). What it stores is unchanged: the kinds ``detect_kind``
gives and the hashes ``file_hash`` gives."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import Counter
from pathlib import Path

import docgen
import pytest
from memex.core import extract
from memex.core.extract import registry
from memex.core.extract.worker import ExtractionWorker
from memex.core.indexing import file_access, scan
from memex.core.library import Library
from memex.core.types import Extraction

CHILD_LOG = "MEMEX_TEST_DETECT_LOG"
TARGET = "test_index_reads_once:counting_extract"


def counting_extract(path: Path, max_chars: int, kind: str | None = None) -> Extraction:
    """``extract_file`` in the extraction child, noting every kind detection it makes there."""
    real = registry.detect_kind

    def noted(p: Path) -> str | None:
        with open(os.environ[CHILD_LOG], "a", encoding="utf-8") as log:
            log.write(Path(p).name + "\n")
        return real(p)

    extract.detect_kind = noted
    try:
        return extract.extract_file(path, max_chars, kind)
    finally:
        extract.detect_kind = real


def _make_files(folder: Path) -> dict[str, str | None]:
    """Files of several kinds; name → the kind stored for it (None: not indexable)."""
    folder.mkdir()
    (folder / "plain.txt").write_text("Plain text about harbour cranes and tides.\n")
    (folder / "notes.md").write_text("# Notes\n\nMarkdown about lighthouse lenses.\n")
    docgen.make_pdf(folder / "paper.pdf", ["A PDF page about glaciers.", "Another page on moraines."])
    docgen.make_html(folder / "page.html", "Guide", ["An HTML page about orchards."])
    docgen.make_docx(folder / "letter.docx", ["A Word letter about violins."], title="Letter")
    (folder / "README").write_text("Read me: a text file known by its name.\n")
    (folder / "journal").write_text("An extension-less file that is text, found by sniffing.\n")
    (folder / "blob").write_bytes(b"\x00\x01binary" * 100)
    docgen.make_broken_pdf(folder / "broken.pdf")
    return {"plain.txt": "text", "notes.md": "markdown", "paper.pdf": "pdf", "page.html": "html",
            "letter.docx": "docx", "README": "text", "journal": "text", "blob": None, "broken.pdf": "pdf"}


class _Counts:
    """Kind detections (in this process and in the extraction child) and hashes, by file name."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, log: Path) -> None:
        self.log = log
        self.parent: Counter[str] = Counter()
        self.hashes: Counter[str] = Counter()
        real_detect, real_hash = registry.detect_kind, file_access._hash_open

        def detect(path):
            self.parent[Path(path).name] += 1
            return real_detect(path)

        def hash_open(fh, path):
            self.hashes[Path(path).name] += 1
            return real_hash(fh, path)

        for module in (scan, extract, registry):  # every name it is reached by here
            monkeypatch.setattr(module, "detect_kind", detect)
        monkeypatch.setattr(file_access, "_hash_open", hash_open)

    def detections(self) -> Counter[str]:
        child = Counter(self.log.read_text(encoding="utf-8").split()) if self.log.exists() else Counter()
        return self.parent + child

    def reset(self) -> None:
        self.parent.clear()
        self.hashes.clear()
        self.log.unlink(missing_ok=True)


def test_each_file_is_detected_and_hashed_once_per_run(tmp_path, embedder, monkeypatch):
    folder = tmp_path / "docs"
    kinds = _make_files(folder)
    monkeypatch.setenv(CHILD_LOG, str(tmp_path / "child-detections.log"))
    counts = _Counts(monkeypatch, tmp_path / "child-detections.log")
    lib = Library.open(tmp_path / "library.db", embedder=embedder, reranker=False,
                       extraction_worker=ExtractionWorker(timeout_s=60, target=TARGET))
    try:
        report = lib.index([folder])
        assert (report.added, report.failed) == (7, 1)
        assert counts.detections() == Counter(list(kinds))  # each file once, the blob included
        assert counts.hashes == Counter(k for k, v in kinds.items() if v)
        _check_stored(lib, folder, kinds)

        # A second run that deletes, moves, changes and adds files: the plan hashes new files
        # (looking for moved ones), and the read reuses those hashes.
        counts.reset()
        (folder / "plain.txt").unlink()
        (folder / "moved").mkdir()
        shutil.move(folder / "notes.md", folder / "moved" / "notes.md")
        (folder / "page.html").write_text("<html><body><p>Orchards, rewritten and longer.</p></body></html>")
        (folder / "new.txt").write_text("A new text file about comets.\n")
        docgen.make_pdf(folder / "new.pdf", ["A new PDF about nebulae."])
        report = lib.index([folder])
        assert (report.added, report.updated, report.moved, report.removed) == (2, 1, 1, 1)
        changed = {"notes.md", "page.html", "new.txt", "new.pdf"}
        assert counts.hashes == Counter(changed)  # the unchanged ones are known by their stat
        assert counts.detections() == Counter(set(kinds) - {"plain.txt", "notes.md"} | changed)
        del kinds["plain.txt"]
        kinds.update({"new.txt": "text", "new.pdf": "pdf"})
        _check_stored(lib, folder, kinds)
    finally:
        lib.close()


def _check_stored(lib: Library, folder: Path, kinds: dict[str, str | None]) -> None:
    """What the library holds is what ``detect_kind`` and a full read of each file say."""
    stored = {Path(d.path).name: d for d in lib.documents()}
    assert set(stored) == {name for name, kind in kinds.items() if kind}
    for name, doc in stored.items():
        assert doc.kind == kinds[name] == registry.detect_kind(Path(doc.path)), name
        assert doc.content_hash == hashlib.blake2b(Path(doc.path).read_bytes(), digest_size=16).hexdigest(), name
        assert doc.status == ("error" if name == "broken.pdf" else "ok"), name


def test_a_file_changed_after_the_plan_hashed_it_is_hashed_again(tmp_path, embedder, monkeypatch):
    """The plan's hash is reused only while the file is as the scan saw it: one rewritten
    between the plan and its read is stored with the hash of what was read."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "gone.txt").write_text("A file that will be deleted, so the plan looks for moves.\n")
    lib = Library.open(tmp_path / "library.db", embedder=embedder, reranker=False)
    try:
        lib.index([folder])
        (folder / "gone.txt").unlink()
        (folder / "a_first.txt").write_text("The first new file, read before the other one changes.\n")
        late = folder / "z_late.txt"
        late.write_text("The second new file, as the plan hashed it.\n")
        hashes: Counter[str] = Counter()
        real_hash = file_access._hash_open

        def hash_open(fh, path):
            hashes[Path(path).name] += 1
            return real_hash(fh, path)

        monkeypatch.setattr(file_access, "_hash_open", hash_open)

        def rewrite_late(progress) -> None:
            # Files are read a few at a time: the late one changes once the first one is reached.
            reached_first = (progress.current or "").endswith("a_first.txt")
            if progress.phase == "indexing" and reached_first and hashes["z_late.txt"] == 1:
                late.write_text("The second new file, rewritten after the plan hashed it: longer now.\n")

        report = lib.index([folder], progress=rewrite_late)
        assert (report.added, report.removed) == (2, 1)
        assert hashes == Counter({"a_first.txt": 1, "z_late.txt": 2})
        stored = lib.document(late)
        assert stored is not None and "rewritten" in lib.page_text(stored.id, 1)
        assert stored.content_hash == hashlib.blake2b(late.read_bytes(), digest_size=16).hexdigest()
    finally:
        lib.close()
