"""The OCR engine on scanned pages made here: a text PDF rendered to an image-only PDF at 150 and
300 dpi, one fed in sideways, one grainy and tilted. What it reads is compared with the known
text (character error rate), and its word boxes with where PyMuPDF drew each word."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import ocr_fixtures as fx
import pymupdf
import pytest
from memex.core.errors import ExtractionError
from memex.core.extract import ocr
from memex.core.extract.ocr import OCR_ENGINE, read_scanned_page
from memex.core.extract.reading_order import reading_order
from memex.core.types import OcrPage

# Measured on these pages: no character wrong at 150/300 dpi and sideways; 0.7 % on the grainy,
# tilted page (noise σ 60, 3°). Word boxes within 3.4 pt of where the word was drawn.
CLEAN_CER = 0.01
NOISY_CER = 0.03
BOX_TOLERANCE_PT = 5.0
DEADLINE_S = 120.0


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[OcrPage]]:
    """The text PDF, and what OCR read on each page of its image-only copy: 150 dpi, 300 dpi,
    150 dpi turned a quarter on a landscape page, 200 dpi grainy and tilted 3°."""
    folder = tmp_path_factory.mktemp("scans")
    source = fx.make_text_pdf(folder / "text.pdf")
    doc = pymupdf.open()
    fx.add_scanned_page(doc, fx.page_image(source, 150))
    fx.add_scanned_page(doc, fx.page_image(source, 300))
    fx.add_scanned_page(doc, fx.page_image(source, 150), rotate=90)
    fx.add_scanned_page(doc, fx.page_image(source, 200, noise=60, skew_deg=3))
    scan = folder / "scan.pdf"
    doc.save(str(scan))
    doc.close()
    with pymupdf.open(str(scan)) as check:
        assert not any(page.get_text().strip() for page in check)  # no text layer at all
    return source, [read_scanned_page(scan, "pdf", n, DEADLINE_S) for n in range(1, 5)]


def _drawn_words(source: Path) -> dict[str, tuple[float, float, float, float]]:
    """Where PyMuPDF drew each word that occurs once on the page (PDF points)."""
    with pymupdf.open(str(source)) as doc:
        words = doc[0].get_text("words")
    counts = Counter(w[4] for w in words)
    return {w[4]: (w[0], w[1], w[2], w[3]) for w in words if counts[w[4]] == 1}


def _box_errors(page: OcrPage, drawn: dict[str, tuple[float, float, float, float]], turn=None) -> list[float]:
    read_counts = Counter(w.text for w in page.words)
    errors = []
    for word in page.words:
        if word.text not in drawn or read_counts[word.text] != 1:
            continue
        x0, y0, x1, y1 = turn(drawn[word.text]) if turn else drawn[word.text]
        # Left and right edges, and the middle of the line (the font's box is taller than the ink).
        errors.append(max(abs(word.x0 - x0), abs(word.x1 - x1), abs((word.y0 + word.y1) / 2 - (y0 + y1) / 2)))
    return errors


@pytest.mark.slow
def test_scanned_pages_read_at_150_and_300_dpi(scans) -> None:
    source, pages = scans
    for page in pages[:2]:
        assert fx.cer(page.text, fx.TEXT) <= CLEAN_CER, page.text
        assert page.text.splitlines()[0].startswith("The quarterly report")  # one line per line, in order
        assert (page.width, page.height) == (fx.PAGE_W, fx.PAGE_H) and page.engine == OCR_ENGINE
        errors = _box_errors(page, _drawn_words(source))
        assert len(errors) >= 30 and max(errors) <= BOX_TOLERANCE_PT, errors


@pytest.mark.slow
def test_a_page_fed_in_sideways_is_turned_upright(scans) -> None:
    source, pages = scans
    page = pages[2]
    assert fx.cer(page.text, fx.TEXT) <= CLEAN_CER, page.text
    assert (page.width, page.height) == (fx.PAGE_H, fx.PAGE_W)
    # The picture lies turned a quarter left on the landscape page: (x, y) -> (y, 595 - x).
    def turned(box):
        x0, y0, x1, y1 = box
        return (y0, fx.PAGE_W - x1, y1, fx.PAGE_W - x0)

    errors = []
    for word in page.words:  # boxes stand upright too: compare all four edges here
        drawn = _drawn_words(source).get(word.text)
        if drawn and sum(w.text == word.text for w in page.words) == 1:
            x0, y0, x1, y1 = turned(drawn)
            errors.append(max(abs(word.x0 - x0), abs(word.x1 - x1), abs(word.y0 - y0), abs(word.y1 - y1)))
    assert len(errors) >= 30 and max(errors) <= 2 * BOX_TOLERANCE_PT, errors


@pytest.mark.slow
def test_a_grainy_tilted_page_reads_nearly_all_characters(scans) -> None:
    _, pages = scans
    assert fx.cer(pages[3].text, fx.TEXT) <= NOISY_CER, pages[3].text
    assert "48213" in pages[3].text and "breakwater" in pages[3].text


@pytest.mark.slow
def test_the_page_deadline_stops_the_reading(tmp_path: Path) -> None:
    source = fx.make_text_pdf(tmp_path / "text.pdf", fx.LINES * 6)
    doc = pymupdf.open()
    fx.add_scanned_page(doc, fx.page_image(source, 200))
    doc.save(str(tmp_path / "scan.pdf"))
    doc.close()
    ocr._engine()  # loaded beforehand: its load is not the page's time
    started = time.monotonic()
    with pytest.raises(ExtractionError) as info:
        read_scanned_page(tmp_path / "scan.pdf", "pdf", 1, 0.2)
    assert info.value.reason == "timeout" and "0.2 s" in str(info.value)
    assert time.monotonic() - started < 5.0


@pytest.mark.slow
def test_the_engine_prints_nothing_and_never_downloads(tmp_path: Path) -> None:
    """A fresh process: loading the engine and reading a page writes not one byte to the
    terminal (the engine logs in colour by default); with its models missing it fails in one
    line with reason "ocr-unavailable" instead of fetching them."""
    png = tmp_path / "line.png"
    fx.draw_text_picture(png, ("Harbour survey 48213",))
    script = (
        "import sys\nfrom pathlib import Path\nfrom memex.core.extract import ocr\n"
        f"page = ocr.read_scanned_page(Path({str(png)!r}), 'image', 1, 60)\n"
        "assert '48213' in page.text, page.text\n"
        "ocr._engine_instance = None\nocr._MODEL_FILES = ('missing-model.onnx',) + ocr._MODEL_FILES[1:]\n"
        "try:\n    ocr.read_scanned_page(Path(sys.argv[1]), 'image', 1, 60)\n"
        "except ocr.ExtractionError as exc:\n    sys.exit(0 if exc.reason == 'ocr-unavailable' and "
        "'missing-model.onnx' in str(exc) and '\\n' not in str(exc) else 3)\nsys.exit(4)\n"
    )
    env = dict(os.environ, TERM="xterm-256color", FORCE_COLOR="1")
    done = subprocess.run([sys.executable, "-c", script, str(png)], capture_output=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert done.stdout == b"" and done.stderr == b""


# --- reading order ---------------------------------------------------------------------------


def test_columns_of_text_are_read_one_after_the_other() -> None:
    title = (100.0, 40.0, 500.0, 60.0)
    left = [(50.0, 100.0 + 25 * i, 280.0, 120.0 + 25 * i) for i in range(4)]
    right = [(320.0, 100.0 + 25 * i, 550.0, 120.0 + 25 * i) for i in range(4)]
    boxes = [title, *[b for pair in zip(left, right, strict=True) for b in pair]]  # found row by row
    order = reading_order(boxes)
    assert order == [[0], [1], [3], [5], [7], [2], [4], [6], [8]]


def test_a_row_of_a_receipt_is_one_line() -> None:
    items = [(40.0, 100.0 + 30 * i, 200.0, 120.0 + 30 * i) for i in range(3)]
    prices = [(420.0, 101.0 + 30 * i, 470.0, 121.0 + 30 * i) for i in range(3)]
    order = reading_order([*prices, *items])
    assert order == [[3, 0], [4, 1], [5, 2]]
    assert reading_order([]) == []
    # Lines of a tilted scan: their upright boxes overlap, but lines one above the other are no row.
    tilted = [(50.0, 100.0 + 18 * i, 500.0, 135.0 + 18 * i) for i in range(3)]
    assert reading_order(tilted, [12.0, 12.0, 12.0]) == [[0], [1], [2]]


@pytest.mark.slow
def test_a_scanned_two_column_page_reads_column_by_column(tmp_path: Path) -> None:
    left = ("The harbour survey began", "at the northern breakwater", "in the first week of March.")
    right = ("Divers measured the depth", "at seventeen stations along", "the approach channel.")
    doc = pymupdf.open()
    page = doc.new_page(width=fx.PAGE_W, height=fx.PAGE_H)
    page.insert_text((72, 72), "Harbour Survey Notes", fontsize=16)
    for index, (a, b) in enumerate(zip(left, right, strict=True)):
        page.insert_text((72, 120 + 16 * index), a, fontsize=11)
        page.insert_text((330, 120 + 16 * index), b, fontsize=11)
    page.insert_text((72, 220), "Coffee for the crew", fontsize=11)
    page.insert_text((480, 220), "12.50", fontsize=11)
    doc.save(str(tmp_path / "text.pdf"))
    doc.close()
    scan = pymupdf.open()
    fx.add_scanned_page(scan, fx.page_image(tmp_path / "text.pdf", 150))
    scan.save(str(tmp_path / "scan.pdf"))
    read = read_scanned_page(tmp_path / "scan.pdf", "pdf", 1, DEADLINE_S)
    expected = "\n".join(("Harbour Survey Notes", *left, *right, "Coffee for the crew 12.50"))
    assert fx.cer(read.text, expected) <= CLEAN_CER, read.text
    assert read.text.splitlines()[1:4] == list(left)
