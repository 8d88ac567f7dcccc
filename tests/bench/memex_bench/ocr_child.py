"""What ``memex bench ocr`` runs in its own processes, so each peak memory figure is one
engine's (or one indexing run's) alone:

    python -m memex_bench.ocr_child engine memex|tesseract MANIFEST.json
    python -m memex_bench.ocr_child folder FOLDER LIBRARY off|on|on-full MARKER...

Each prints one JSON line last.
"""

from __future__ import annotations

import json
import resource
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

TESSERACT_DPI = 300  # PyMuPDF renders the page for Tesseract at this resolution (its advice)
PAGE_DEADLINE_S = 120.0


def peak_rss_mb() -> float:
    """This process's highest resident memory (VmHWM; ru_maxrss where /proc is absent)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- engines -------------------------------------------------------------------------------------
def memex_reader() -> tuple[Callable[[Path, str, int], str], str]:
    """Memex's own engine: ``read_scanned_page`` as indexing calls it."""
    from memex.core.extract.ocr import OCR_ENGINE, read_scanned_page

    def read(path: Path, kind: str, page: int) -> str:
        return read_scanned_page(path, kind, page, PAGE_DEADLINE_S).text

    return read, OCR_ENGINE


def tesseract_reader() -> tuple[Callable[[Path, str, int], str], str]:
    """PyMuPDF's route to Tesseract: the page rendered at TESSERACT_DPI and OCR'd whole."""
    import pymupdf

    pymupdf.get_tessdata()  # raises when no Tesseract language data is installed

    def read(path: Path, kind: str, page: int) -> str:
        with pymupdf.open(path) as doc:
            sheet = doc[page - 1]
            textpage = sheet.get_textpage_ocr(language="eng", dpi=TESSERACT_DPI, full=True)
            return sheet.get_text(textpage=textpage)

    return read, "Tesseract (PyMuPDF get_textpage_ocr)"


def run_engine(name: str, manifest: Path) -> dict:
    """Read every page of the manifest; the first page once more beforehand, untimed, so the
    timings leave out loading the engine (its time is reported on its own)."""
    import pymupdf  # noqa: F401 - both engines' processes hold PyMuPDF: memory figures compare alike
    pages = json.loads(manifest.read_text(encoding="utf-8"))
    before_mb = peak_rss_mb()
    started = time.perf_counter()
    read, engine = memex_reader() if name == "memex" else tesseract_reader()
    read(Path(pages[0]["path"]), pages[0]["kind"], pages[0]["page"])
    first_s = time.perf_counter() - started
    texts, seconds = [], []
    cpu = _cpu_s()
    for page in pages:
        began = time.perf_counter()
        texts.append(read(Path(page["path"]), page["kind"], page["page"]))
        seconds.append(time.perf_counter() - began)
    return {"engine": engine, "texts": texts, "seconds": seconds, "cpu_s": _cpu_s() - cpu,
            "first_page_s": first_s, "start_mb": before_mb, "peak_mb": peak_rss_mb()}


# -- a folder indexed with OCR on or off -------------------------------------------------------
def index_folder(folder: str, library: str, mode: str, markers: list[str]) -> dict:
    """Index ``folder`` into a new library, with OCR ("on", "on-full") or without ("off");
    when every file's words were in (the last "indexing" report, all files done) and when
    the last scanned page was read. The run stops at the words, or with "on-full" once the
    scanned pages are read: the vectors that would follow are not measured."""
    ocr = mode != "off"
    from memex.core.config import Settings
    from memex.core.library import Library

    lib = Library.open(library, settings=Settings(ocr=ocr), reranker=False)
    _ = lib.embedder  # model loading is start-up, not indexing
    marks: dict[str, float] = {}
    ocr_pages = [0, 0]
    stop = threading.Event()

    def progress(p) -> None:  # noqa: ANN001 - IndexProgress
        now = time.perf_counter() - start
        if p.phase == "indexing" and p.files_total and p.files_done >= p.files_total:
            marks.setdefault("words_s", now)
            if mode != "on-full":
                stop.set()
        total, done = getattr(p, "ocr_pages_total", 0), getattr(p, "ocr_pages_done", 0)
        if total:
            ocr_pages[:] = [total, max(done, ocr_pages[1])]
            if done >= total:
                marks.setdefault("ocr_s", now)
                stop.set()

    start = time.perf_counter()
    report = lib.index([folder], progress=progress, cancel=stop)
    marks["stopped_s"] = time.perf_counter() - start
    found = {}
    for marker in markers:  # which scanned files a word read only from their pictures finds
        hits = lib.search(marker, k=5, mode="bm25", rerank=False)
        found[marker] = [Path(h.path).name for h in hits]
    lib.close()
    return {**marks, "files": report.added, "failed": report.failed, "chunks": report.chunks,
            "ocr_pages_total": ocr_pages[0], "ocr_pages_done": ocr_pages[1], "found": found,
            "peak_mb": peak_rss_mb(),
            "workers_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def main(argv: list[str]) -> None:
    if argv[0] == "engine":
        result = run_engine(argv[1], Path(argv[2]))
    elif argv[0] == "folder":
        result = index_folder(argv[1], argv[2], argv[3], argv[4:])
    else:
        raise SystemExit(f"unknown job {argv[0]!r}")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
