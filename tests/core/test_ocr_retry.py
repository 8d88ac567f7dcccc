"""Pages OCR could not read are listed with the failed files, one entry per file, and "Try
again" (``Library.retry``) makes the next run read them again."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pymupdf
import pytest
from memex.core.indexing.ocr_phase import OcrWorker
from memex.core.store import ocr as ocr_store

TARGET = f"{__name__}:faint_while_flagged"
FLAG_ENV = "MEMEX_TEST_OCR_RETRY_FLAG"  # while this file exists, no page can be read
WORDS = {1: "WALRUS", 2: "NARWHAL"}


def faint_while_flagged(path: Path, kind: str, page: int, timeout_s: float) -> object:
    """(In the OCR process.) An engine that cannot make out any page while the flag file
    exists, and afterwards reads a word of its own on each page."""
    from memex.core.types import OcrPage, OcrWord

    if os.path.exists(os.environ[FLAG_ENV]):
        raise ValueError("the picture is too faint")
    word = WORDS.get(page, "DUGONG")
    return OcrPage(number=page, text=f"the {word} page", words=(OcrWord(word, 10, 10, 90, 30),),
                   width=420.0, height=220.0, engine="fake")


def save_scanned(path: Path, pages: int) -> None:
    """A PDF of ``pages`` pages each holding only a picture (no text layer)."""
    doc = pymupdf.open()
    for _ in range(pages):
        page = doc.new_page(width=420, height=220)
        pixmap = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 420, 220), False)
        pixmap.clear_with(200)
        page.insert_image(page.rect, pixmap=pixmap)
    doc.save(path)


def found(library, word: str) -> list[tuple[str, int, bool]]:
    return [(Path(h.path).name, h.page, h.best.ocr) for h in library.find(word, mode="bm25").hits]


@pytest.fixture
def flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(OcrWorker, "SPEC", replace(OcrWorker.SPEC, target=TARGET))
    path = tmp_path / "faint"
    path.touch()
    monkeypatch.setenv(FLAG_ENV, str(path))
    return path


def test_pages_ocr_could_not_read_are_listed_per_file_and_read_again_on_retry(
        tmp_path: Path, open_library, flag: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    save_scanned(folder / "letter.pdf", 2)
    save_scanned(folder / "receipt.pdf", 1)
    (folder / "notes.txt").write_text("A shopping list: bread and tea.\n", encoding="utf-8")
    library = open_library(reranker=False)
    report = library.index([folder])
    assert report.failed == 0 and len(report.errors) == 3  # the run names each page

    failures = {Path(f.path).name: f for f in library.failures()}
    assert sorted(failures) == ["letter.pdf", "receipt.pdf"]  # one entry per file
    letter, receipt = failures["letter.pdf"], failures["receipt.pdf"]
    assert (letter.path, letter.reason) == (str(folder / "letter.pdf"), "ocr-failed")
    assert letter.message == "Pages 1 and 2: the page could not be read by OCR: the picture is too faint"
    assert receipt.message == "Page 1: the page could not be read by OCR: the picture is too faint"
    assert library.status().failed == 2
    assert library.failures(limit=1) == [library.failures()[0]]

    assert library.index().errors == ()  # not tried again until the file changes, or on request
    assert library.retry([folder / "notes.txt"]).errors == ()  # not a failed file: nothing to do

    flag.unlink()  # the engine can read the pages now
    report = library.retry([folder / "letter.pdf"])
    assert report.errors == () and not report.cancelled
    assert found(library, "walrus") == [("letter.pdf", 1, True)]
    assert found(library, "narwhal") == [("letter.pdf", 2, True)]
    assert [Path(f.path).name for f in library.failures()] == ["receipt.pdf"]
    assert library.status().failed == 1
    with library.store.read() as conn:
        assert ocr_store.ocr_counts(conn) == ocr_store.OcrCounts(waiting=0, done=2, failed=1)

    assert library.retry([str(folder / "receipt.pdf")]).errors == ()
    assert library.failures() == [] and library.status().failed == 0
    assert found(library, "walrus") == [("letter.pdf", 1, True), ("receipt.pdf", 1, True)]


def test_a_page_that_still_fails_on_retry_stays_listed(tmp_path: Path, open_library, flag: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    save_scanned(folder / "receipt.pdf", 1)
    library = open_library(reranker=False)
    library.index([folder])
    report = library.retry([folder / "receipt.pdf"])
    assert [(Path(e.path).name, e.reason) for e in report.errors] == [("receipt.pdf", "ocr-failed")]
    assert [(Path(f.path).name, f.reason) for f in library.failures()] == [("receipt.pdf", "ocr-failed")]


def test_the_entry_of_a_file_groups_its_pages_by_reason() -> None:
    from memex.core.store.ocr import _pages_failed

    assert _pages_failed({"too faint": [3]}) == "Page 3: too faint"
    mixed = _pages_failed({"too faint": [2, 5], "took too long": [7]})
    assert mixed == "Pages 2 and 5: too faint; page 7: took too long"
    many = _pages_failed({"too faint": list(range(1, 31))})
    assert many == "Pages 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 and 18 more: too faint"
