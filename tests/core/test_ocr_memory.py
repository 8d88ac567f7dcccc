"""The OCR process's memory on a dense scanned page: it stays under a bound that leaves room for
the indexing process beside it (all of Memex's processes together within 500 MB), and gives the
page's memory back before the next one."""

from __future__ import annotations

from pathlib import Path

import ocr_fixtures as fx
import pymupdf
import pytest
from memex.core.extract.detect_bands import DETECT_BAND, DETECT_OVERLAP, bands
from memex.core.indexing.ocr_phase import OcrWorker

# Measured on this page (42 lines of 11 pt text scanned at 300 dpi, read twice): the OCR process
# peaked at 313 MB and held 223–240 MB between pages; when text was found on the whole page at
# once and the heap kept what the models had used, it peaked at 485 MB and held 366–398 MB. A
# fresh install measured 344 MB (library builds differ): the bounds sit between the two.
PEAK_MB = 400
SETTLED_MB = 300  # resident once the page is read (the models and libraries stay loaded)


def _status(pid: int, key: str) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no {key} for process {pid}")


@pytest.mark.slow
def test_the_ocr_process_stays_small_on_a_dense_page(tmp_path: Path) -> None:
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc to read a process's memory")
    source = fx.make_text_pdf(tmp_path / "text.pdf", fx.LINES * 7, top=60.0)
    doc = pymupdf.open()
    fx.add_scanned_page(doc, fx.page_image(source, 300))
    doc.save(str(tmp_path / "dense.pdf"))
    doc.close()
    with OcrWorker(page_timeout_s=300.0) as worker:
        first = worker.read(tmp_path / "dense.pdf", "pdf", 1)
        pid = worker.pid
        assert pid is not None
        settled = _status(pid, "VmRSS")
        second = worker.read(tmp_path / "dense.pdf", "pdf", 1)
        peak = _status(pid, "VmHWM")
        after = _status(pid, "VmRSS")
    assert first.text == second.text and fx.cer(first.text, "\n".join(fx.LINES * 7)) <= 0.01, first.text
    assert peak <= PEAK_MB, f"OCR process peaked at {peak:.0f} MB"
    assert settled <= SETTLED_MB and after <= SETTLED_MB, (settled, after)


@pytest.mark.parametrize("rows", [32, 352, 384, 416, 736, 1024, 1600])
def test_bands_cover_the_page_and_share_enough_rows(rows: int) -> None:
    """Every row is owned by exactly one band; bands are at most DETECT_BAND rows, in multiples
    of 32 (the model's stride), and neighbours share at least DETECT_OVERLAP rows, with the
    boundary of ownership in the middle of the shared rows."""
    found = bands(rows)
    assert found[0][0] == found[0][2] == 0 and found[-1][1] == found[-1][3] == rows
    for top, bottom, own_top, own_bottom in found:
        assert bottom - top <= DETECT_BAND and top % 32 == 0 and (bottom - top) % 32 == 0
        assert top <= own_top < own_bottom <= bottom
    for (_, bottom, _, own_end), (next_top, _, next_own, _) in zip(found, found[1:], strict=False):
        assert own_end == next_own and bottom - next_top >= DETECT_OVERLAP
        assert own_end - next_top >= DETECT_OVERLAP // 2 - 16 and bottom - own_end >= DETECT_OVERLAP // 2 - 16
