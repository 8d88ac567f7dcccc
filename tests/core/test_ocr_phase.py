"""Scanned pages are read by OCR after every file's words are in, at low priority, resumably,
and their text is found with its page and marked as read by OCR."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import pymupdf
import pytest
from memex.core.cli.output import format_hits, format_progress, hit_dict
from memex.core.errors import ExtractionError, IndexingCancelled
from memex.core.indexing.indexer import IndexOptions
from memex.core.indexing.meaning import MeaningQueue
from memex.core.indexing.ocr_phase import OcrPhase, OcrWorker
from memex.core.indexing.pace import Pace
from memex.core.jobs import JobControl
from memex.core.store import ocr as ocr_store
from memex.core.types import IndexProgress

TEXT_WORD = "marmalade"  # in the text file
LAYER_WORD = "bergamot"  # in the text layer of page 1 of the mixed PDF
SCANNED_WORD = "QUETZALCOATL"  # only in the picture of page 2 of the mixed PDF
OTHER_WORD = "PANGOLIN"  # only in the picture of page 1 of the scanned PDF
RAISING_TARGET = f"{__name__}:unreadable_picture"


def unreadable_picture(path: Path, kind: str, page: int, timeout_s: float) -> object:
    """(In the OCR process.) An engine that cannot make out the page."""
    raise ValueError(f"the picture on page {page} is too faint\nto make out")


def scanned_page(doc: pymupdf.Document, words: str, dpi: int = 150) -> None:
    """Add a page to ``doc`` that holds ``words`` only as a picture (no text layer)."""
    source = pymupdf.open()
    page = source.new_page(width=420, height=220)
    page.insert_text((40, 110), words, fontsize=22)
    pixmap = page.get_pixmap(dpi=dpi)
    target = doc.new_page(width=420, height=220)
    target.insert_image(target.rect, pixmap=pixmap)


def make_folder(root: Path) -> Path:
    folder = root / "docs"
    folder.mkdir()
    (folder / "notes.txt").write_text(f"A shopping list: {TEXT_WORD}, bread and tea.\n", encoding="utf-8")
    mixed = pymupdf.open()
    mixed.new_page(width=420, height=220).insert_text((40, 110), f"A typed page about {LAYER_WORD} oil.")
    scanned_page(mixed, f"the {SCANNED_WORD} letter")
    mixed.save(folder / "mixed.pdf")
    return folder


def index_unread(library, folder: Path) -> None:
    """Index ``folder`` with OCR off: its scanned pages wait, as a run with OCR on leaves them
    before its OCR phase."""
    library.update_settings(replace(library.settings, ocr=False))
    library.index([folder])


def scanned_folder(root: Path, name: str, words: str) -> Path:
    """A folder of one scanned PDF, ``name``, whose picture holds ``words``."""
    folder = root / "docs"
    folder.mkdir()
    save_scanned(folder / name, words)
    return folder


def save_scanned(path: Path, words: str) -> None:
    doc = pymupdf.open()
    scanned_page(doc, words)
    doc.save(path)


def names(library, query: str) -> list[tuple[str, int, bool]]:
    return [(Path(h.path).name, h.page, h.best.ocr) for h in library.find(query, mode="bm25").hits]


@pytest.fixture
def unreadable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every page OCR is asked for fails (a raising engine, in the real OCR process)."""
    monkeypatch.setattr(OcrWorker, "SPEC", replace(OcrWorker.SPEC, target=RAISING_TARGET))


@pytest.mark.slow
def test_a_scanned_word_is_found_on_its_page_after_every_file_was_searchable(tmp_path, open_library):
    folder = make_folder(tmp_path)
    library = open_library(reranker=False)
    events: list[IndexProgress] = []
    report = library.index([folder], progress=events.append)

    assert report.failed == 0 and not report.cancelled, report.errors
    first_ocr = next(i for i, p in enumerate(events) if p.phase == "ocr")
    words_done = events[first_ocr - 1]
    assert words_done.files_done == words_done.files_total == 2  # every file's words were in first
    assert all(p.ocr_pages_total == 0 for p in events[:first_ocr])
    assert events[first_ocr].ocr_pages_total == 1
    assert "reading scanned pages, " in format_progress(events[first_ocr])
    assert events[-1].phase == "done"
    assert (events[-1].ocr_pages_done, events[-1].ocr_pages_total) == (1, 1)
    assert events[-1].chunks_written == report.chunks  # OCR's chunks counted with the rest

    assert names(library, TEXT_WORD) == [("notes.txt", 1, False)]
    assert names(library, LAYER_WORD) == [("mixed.pdf", 1, False)]  # the text layer, not OCR'd
    assert names(library, SCANNED_WORD.lower()) == [("mixed.pdf", 2, True)]
    assert library.status().chunks_pending == 0  # OCR's chunks got their vectors before "done"
    hit = library.find(SCANNED_WORD.lower(), mode="bm25").hits[0]
    assert "read by OCR" in format_hits([hit], color=False)[0]
    assert hit_dict(1, hit)["ocr"] is True

    mixed = str(folder / "mixed.pdf")
    read = library.ocr_words(mixed, 2)
    assert read is not None and SCANNED_WORD in read.text.upper()
    box = next(w for w in read.words if SCANNED_WORD in w.text.upper())
    assert 0 <= box.x0 < box.x1 <= read.width == 420 and 0 <= box.y0 < box.y1 <= read.height == 220
    assert library.ocr_words(mixed, 1) is None  # a page with a text layer is never OCR'd
    with library.store.read() as conn:
        assert ocr_store.ocr_counts(conn) == ocr_store.OcrCounts(waiting=0, done=1, failed=0)


@pytest.mark.slow
def test_a_run_stopped_while_reading_scanned_pages_is_resumed_by_the_next(tmp_path, open_library):
    folder = tmp_path / "docs"
    folder.mkdir()
    save_scanned(folder / "first.pdf", f"a {SCANNED_WORD} page")
    save_scanned(folder / "second.pdf", f"a {OTHER_WORD} page")
    library = open_library(reranker=False)
    cancel = threading.Event()

    def stop_at_ocr(p: IndexProgress) -> None:
        if p.phase == "ocr":
            cancel.set()

    stopped = library.index([folder], progress=stop_at_ocr, cancel=cancel)
    assert stopped.cancelled
    with library.store.read() as conn:
        counts = ocr_store.ocr_counts(conn)
    assert counts.waiting >= 1 and counts.failed == 0  # the page in progress waits, uncounted

    events: list[IndexProgress] = []
    resumed = library.index(progress=events.append)  # a new run (as after a restart) goes on
    assert not resumed.cancelled and resumed.errors == ()
    assert events[-1].ocr_pages_total == counts.waiting == events[-1].ocr_pages_done
    assert names(library, SCANNED_WORD.lower()) == [("first.pdf", 1, True)]
    assert names(library, OTHER_WORD.lower()) == [("second.pdf", 1, True)]


@pytest.mark.slow
def test_ocr_off_leaves_pages_waiting_and_a_reread_file_replaces_what_ocr_read(tmp_path, open_library):
    folder = tmp_path / "docs"
    folder.mkdir()
    scan = folder / "scan.pdf"
    save_scanned(scan, f"the {SCANNED_WORD} letter")
    library = open_library(reranker=False)
    library.update_settings(replace(library.settings, ocr=False))
    events: list[IndexProgress] = []
    library.index([folder], progress=events.append)
    assert all(p.phase != "ocr" and p.ocr_pages_total == 0 for p in events)
    assert names(library, SCANNED_WORD.lower()) == []
    with library.store.read() as conn:
        assert ocr_store.ocr_counts(conn).waiting == 1

    library.update_settings(replace(library.settings, ocr=True))
    library.index()  # nothing changed on disk: the waiting page is read now
    assert names(library, SCANNED_WORD.lower()) == [("scan.pdf", 1, True)]

    save_scanned(scan, f"the {OTHER_WORD} letter")  # the file changes: read again, OCR again
    library.index()
    assert names(library, SCANNED_WORD.lower()) == []
    assert names(library, OTHER_WORD.lower()) == [("scan.pdf", 1, True)]
    with library.store.read() as conn:
        assert ocr_store.ocr_counts(conn) == ocr_store.OcrCounts(waiting=0, done=1, failed=0)
    read = library.ocr_words(str(scan), 1)
    assert read is not None and OTHER_WORD in read.text.upper()


def test_a_page_ocr_cannot_read_is_listed_once_in_one_line(tmp_path, open_library, unreadable):
    folder = tmp_path / "docs"
    folder.mkdir()
    save_scanned(folder / "faint.pdf", "faint words")
    library = open_library(reranker=False)
    report = library.index([folder])
    assert not report.cancelled and report.failed == 0  # the file itself was read
    [error] = report.errors
    assert error.path == str(folder / "faint.pdf") and error.reason == "ocr-failed"
    assert error.message == "Page 1: the page could not be read by OCR: the picture on page 1 is too faint to make out"
    assert "\n" not in error.message and "unexpected" not in error.message.lower()
    with library.store.read() as conn:
        assert ocr_store.ocr_counts(conn) == ocr_store.OcrCounts(waiting=0, done=0, failed=1)
        assert ocr_store.failed_pages(conn) == [error]
    assert library.index().errors == ()  # not tried again until the file changes
    assert library.ocr_words(str(folder / "faint.pdf"), 1) is None


def run_phase(library, cancel: threading.Event | None = None) -> OcrPhase:
    """The OCR phase on its own, as a run starts it once the words are in (no embedder)."""
    cancel = cancel or threading.Event()
    phase = OcrPhase(library.store, library.embedder.tokenizer, IndexOptions(), enabled=True,
                     cancel=cancel, pause=threading.Event())
    job = JobControl(cancel, None, stopped=lambda: IndexingCancelled("stopped"))
    meaning = MeaningQueue(library.store.connection(), None, None, job, Pace(), lambda: None, lambda force: None)
    try:
        phase.start()
        phase.finish(meaning, lambda: None)
    finally:
        phase.close()
    return phase


@pytest.mark.slow
def test_pages_of_a_changed_or_vanished_file_or_with_text_are_dropped_unread(tmp_path, open_library,
                                                                            unreadable):
    folder = make_folder(tmp_path)
    save_scanned(folder / "gone.pdf", "soon gone")
    save_scanned(folder / "changed.pdf", "soon changed")
    library = open_library(reranker=False)
    index_unread(library, folder)
    with library.store.write() as conn:  # page 1 of the mixed PDF has text: it must never be read
        mixed = library.document(folder / "mixed.pdf")
        assert mixed is not None
        conn.execute("INSERT INTO ocr_pages(document_id, page) VALUES (?, 1)", (mixed.id,))
        assert ocr_store.ocr_counts(conn).waiting == 4
    (folder / "gone.pdf").unlink()
    save_scanned(folder / "changed.pdf", "changed now, and longer than before")

    phase = run_phase(library)
    # mixed.pdf page 2 is read (and fails with this engine); the other three are dropped unread
    assert [(Path(e.path).name, e.message.split(":")[0]) for e in phase.errors] == [("mixed.pdf", "Page 2")]
    assert (phase.total, phase.done) == (4, 4)
    with library.store.read() as conn:
        assert ocr_store.ocr_counts(conn) == ocr_store.OcrCounts(waiting=0, done=0, failed=1)
    library.update_settings(replace(library.settings, ocr=True))
    library.index()  # the changed file is read again: its page waits again, and is tried
    with library.store.read() as conn:
        assert ocr_store.ocr_counts(conn) == ocr_store.OcrCounts(waiting=0, done=0, failed=2)


def test_a_document_written_again_loses_its_ocr_rows(tmp_path, open_library):
    library = open_library(reranker=False)
    folder = scanned_folder(tmp_path, "scan.pdf", "words")
    index_unread(library, folder)
    doc = library.document(folder / "scan.pdf")
    assert doc is not None
    with library.store.write() as conn:
        ocr_store.record_waiting(conn, doc.id, [1, 2, 2, 0])  # pages counted from 1, once each
        assert ocr_store.ocr_counts(conn).waiting == 2
        ocr_store.record_waiting(conn, doc.id, [3])
        assert [p.page for p in ocr_store.next_waiting(conn, 10)] == [3]
    (folder / "scan.pdf").write_bytes(b"%PDF-1.4 not really")  # now unreadable: a failed document
    library.index()
    with library.store.read() as conn:
        assert ocr_store.ocr_counts(conn) == ocr_store.OcrCounts()
        assert conn.execute("SELECT count(*) FROM ocr_pages").fetchone()[0] == 0


def test_a_stop_during_ocr_stops_the_phase_promptly(tmp_path, open_library, monkeypatch):
    monkeypatch.setattr(OcrWorker, "SPEC", replace(OcrWorker.SPEC, target=f"{__name__}:slow_picture"))
    library = open_library(reranker=False)
    index_unread(library, scanned_folder(tmp_path, "slow.pdf", "slow"))
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(IndexingCancelled):
        run_phase(library, cancel)
    assert time.monotonic() - started < 10  # the page's reader is killed, not waited for (60 s)
    with library.store.read() as conn:
        [page] = ocr_store.next_waiting(conn, 10)
    assert page.attempts == 0  # a stop is not the page's fault


def slow_picture(path: Path, kind: str, page: int, timeout_s: float) -> object:
    """(In the OCR process.) An engine that takes a minute over a page."""
    time.sleep(60)
    raise AssertionError("not reached")


def engine_missing(path: Path, kind: str, page: int, timeout_s: float) -> object:
    """(In the OCR process.) An engine that cannot load."""
    raise ExtractionError("the OCR engine cannot start: rapidocr is not installed", "ocr-unavailable")


def test_an_engine_that_cannot_start_leaves_every_page_waiting_and_says_so_once(tmp_path, open_library, monkeypatch):
    monkeypatch.setattr(OcrWorker, "SPEC", replace(OcrWorker.SPEC, target=f"{__name__}:engine_missing"))
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("a.pdf", "b.pdf", "c.pdf"):
        save_scanned(folder / name, "words")
    library = open_library(reranker=False)
    report = library.index([folder])
    assert [(e.reason, e.message) for e in report.errors] == [
        ("ocr-unavailable", "the OCR engine cannot start: rapidocr is not installed")]
    with library.store.read() as conn:
        assert ocr_store.ocr_counts(conn) == ocr_store.OcrCounts(waiting=3, done=0, failed=0)
        assert {p.attempts for p in ocr_store.next_waiting(conn, 10)} == {0}


def test_a_page_that_was_being_read_when_three_runs_died_is_not_read_a_fourth_time(tmp_path, open_library,
                                                                                   unreadable):
    library = open_library(reranker=False)
    index_unread(library, scanned_folder(tmp_path, "deadly.pdf", "words"))
    with library.store.write() as conn:  # as three runs that ended while reading it left it
        for _ in range(3):
            ocr_store.note_attempt(conn, ocr_store.next_waiting(conn, 1)[0])
    phase = run_phase(library)
    assert [e.message for e in phase.errors] == [
        "Page 1: Memex stopped 3 times while reading this page; it is skipped until the file changes"]
    with library.store.read() as conn:
        assert ocr_store.ocr_counts(conn) == ocr_store.OcrCounts(waiting=0, done=0, failed=1)
