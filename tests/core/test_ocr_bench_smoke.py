"""``memex bench ocr``: its error measure against a plain dynamic programme, its test pages
(pictures with no text layer), and a whole run on two pages that prints every row."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("memex_bench")
pymupdf = pytest.importorskip("pymupdf")

from memex_bench import ocr_bench  # noqa: E402
from memex_bench.ocr_pages import (  # noqa: E402
    VARIANTS,
    char_error_rate,
    edit_distance,
    make_page,
    word_recall,
)
from ocr_fixtures import levenshtein  # noqa: E402  (the textbook version, from the OCR tests)


def test_edit_distance_agrees_with_the_textbook_programme() -> None:
    rnd = random.Random(7)
    for _ in range(400):
        a = "".join(rnd.choice("abcé ") for _ in range(rnd.randint(0, 14)))
        b = "".join(rnd.choice("abcé ") for _ in range(rnd.randint(0, 14)))
        assert edit_distance(a, b) == levenshtein(a, b), (a, b)


def test_error_rate_and_recall_count_against_the_known_text() -> None:
    truth = "grep  searches\nfor PATTERNS"
    assert char_error_rate("grep searches for PATTERNS", truth) == 0.0  # line breaks are spaces
    assert char_error_rate("GREP searches for PATTERNS", truth) == pytest.approx(4 / 26)  # case counts
    assert char_error_rate("", truth) == 1.0
    assert char_error_rate("qrep searches for PATTERNS", truth) == pytest.approx(1 / 26)
    assert word_recall("searches PATTERNS on", truth) == 0.5  # of grep, searches, for, patterns
    assert word_recall("GREP searches for patterns", truth) == 1.0


def test_test_pages_are_pictures_without_a_text_layer(tmp_path: Path) -> None:
    text = "NAME\nls - list directory contents\nSYNOPSIS\nls [OPTION]... [FILE]...\n" * 3
    for number, variant in enumerate(VARIANTS):
        suffix = ".png" if variant.kind == "image" else ".pdf"
        page = make_page(text, variant, number, tmp_path / f"p{number}{suffix}")
        assert "ls - list directory contents" in page.truth
        with pymupdf.open(page.path) as doc:
            assert doc.page_count == 1
            if variant.kind == "pdf":
                assert doc[0].get_text().strip() == ""  # nothing but a picture
                assert len(doc[0].get_images()) == 1


def test_without_tesseract_the_baseline_says_so(tmp_path: Path) -> None:
    page = make_page("NAME\nls - list directory contents\n", VARIANTS[0], 0, tmp_path / "p.pdf")
    read = {"engine": "E", "texts": [page.truth.replace("ls", "Is")], "seconds": [2.0], "cpu_s": 3.0,
            "first_page_s": 5.0, "peak_mb": 400.0}
    rows = ocr_bench.engine_rows([page], read, None)
    assert [r.figure for r in rows][:2] == ["OCR character error rate, 1 page (E)", "  … 300 dpi scan (1 page)"]
    assert all(r.baseline == "Tesseract: not installed" and r.baseline_value is None for r in rows)
    assert rows[0].value == pytest.approx(100 / len(" ".join(page.truth.split())))  # one l read as I
    assert {r.figure: r.value for r in rows}["OCR speed"] == 0.5


def _folder_run(words_s: float, **more: object) -> dict:
    return {"words_s": words_s, "files": 9, "peak_mb": 200.0, "workers_mb": 100.0, "found": {},
            "ocr_pages_total": 0, **more}


def test_the_delay_target_is_ten_percent() -> None:
    found = {"Thornbury": ["letter-scan.pdf"], "Wexcombe": ["receipt-scan.pdf"]}
    on = [_folder_run(10.9), _folder_run(10.5, ocr_s=60.0, ocr_pages_total=5, found=found)]
    rows = {r.figure: r for r in ocr_bench.folder_rows([_folder_run(10.0), _folder_run(12.0)], on)}
    assert rows["  … delay from OCR"].value == pytest.approx(5.0) and rows["  … delay from OCR"].ok
    assert rows["scanned pages searchable (5 pages, last run)"].value == 60.0
    assert rows["scanned files found by a word only their pictures hold"].value == 2
    late = {r.figure: r for r in ocr_bench.folder_rows([_folder_run(10.0)], [_folder_run(11.5)])}
    assert late["  … delay from OCR"].ok is False
    assert "scanned pages searchable (0 pages, last run)" not in late


@pytest.mark.slow
def test_bench_ocr_prints_every_row(tmp_path: Path) -> None:
    real = tmp_path / "real"  # a small stand-in for the real folder (building that one takes minutes)
    (real / "man").mkdir(parents=True)
    for name in ("tar", "grep", "sed"):
        (real / "man" / f"{name}.txt").write_text(f"{name} reads files and writes what it finds.\n" * 40,
                                                 encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "memex.core", "bench", "ocr", "--pages", "2", "--rounds", "1",
                           "--folder", str(real), "--workdir", str(tmp_path / "work"), "--json"],
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {row["figure"]: row for row in json.loads(proc.stdout)}
    engine = next(f for f in rows if f.startswith("OCR character error rate, 2 pages ("))
    expected = [engine, "  … 300 dpi scan (1 page)", "  … 150 dpi scan (1 page)",
                "OCR words a search finds (share of each page's words)", "OCR speed",
                "OCR speed, words of the known text", "OCR CPU time per page (all threads)",
                "OCR peak memory, engine process", "OCR first page, engine start included",
                "  … delay from OCR", "scanned files found by a word only their pictures hold",
                "peak memory, indexing process", "peak memory, largest worker process (extraction, OCR)"]
    for figure in expected:
        assert figure in rows, (figure, sorted(rows))
    assert any(f.startswith("all text-layer files searchable, OCR on (") for f in rows)
    assert "scanned pages searchable (5 pages, last run)" in rows
    tesseract = ocr_bench.tesseract_installed()
    for figure in expected[:9]:
        row = rows[figure]
        assert math.isfinite(row["value"]) and row["value"] >= 0
        assert (row["baseline_value"] is not None) == tesseract
        assert row["baseline"] == ("Tesseract (PyMuPDF)" if tesseract else "Tesseract: not installed")
    assert rows[engine]["value"] < 10  # clean 300 and 150 dpi pages: under 10 % of characters wrong
    assert rows["OCR speed"]["value"] > 0
    assert rows["OCR peak memory, engine process"]["value"] > 50
