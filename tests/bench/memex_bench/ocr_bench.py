"""``memex bench ocr``: reading scanned pages and pictures of text, against a baseline measured
in the same run.

1. Engines. Memex's (``read_scanned_page``: RapidOCR, PP-OCRv6 small, on ONNX Runtime) and
   PyMuPDF's route to Tesseract (``Page.get_textpage_ocr``; a system Tesseract, not a Memex
   dependency) read the same test pages (:mod:`.ocr_pages`: real text laid out and rendered
   as scans at 300 and 150 dpi, turned, noisy, and a PNG screenshot). For each: character
   error rate against the known text, the share of the text's words a search would find,
   pages and words per second, CPU seconds per page, and the peak resident memory of the
   process that ran it (each engine in its own process, :mod:`.ocr_child`).
2. OCR must not delay the text. A mixed folder (part of the real folder, plus scanned PDFs, a
   PDF with one scanned page, and a screenshot) indexed from nothing with OCR on and with
   ``Settings(ocr=False)``, alternately, in fresh processes: the time until every file's
   words are in (the last "indexing" report; the best of the rounds), and, in the last run
   with OCR on, the time until the scanned pages are read and whether a word found only in
   each picture finds its file.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .ocr_pages import (
    VARIANTS,
    TestPage,
    Variant,
    lay_out,
    make_page,
    normalised,
    picture_of,
    source_texts,
    word_recall,
)
from .table import Row

DEFAULT_PAGES = 12
DEFAULT_FOLDER = Path("/tmp/realfolder")
DELAY_TARGET = 0.10  # OCR on may make the words of the text files searchable at most 10 % later
FOLDER_ROUNDS = 3  # OCR off and on, alternately, this many times each; the best of each counts
TESSERACT_INSTALL = "apt-get install tesseract-ocr tesseract-ocr-eng"
REAL_PICKS = (  # (glob in the real folder, how many): text files, HTML, Word and text PDFs
    ("man/*.txt", 15), ("deutsch/*.txt", 7), ("notes/*", 2), ("html/doc/*.html", 10), ("docx/**/*.docx", 6),
)
TEXT_PDFS = 10
SCANNED_SOURCES = ("rm", "mkdir", "cat", "head", "wc")  # manual pages the real folder has not
MARKERS = ("Thornbury", "Wexcombe", "Ashdown", "Pickwell")


def run(workdir: Path, pages: int = DEFAULT_PAGES, folder: Path | None = None,
        rounds: int = FOLDER_ROUNDS) -> list[Row]:
    from .ocr_pages import make_test_pages

    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="memex-bench-ocr-", dir=workdir) as tmp:
        root = Path(tmp)
        test_pages = make_test_pages(root / "pages", pages)
        manifest = root / "pages.json"
        manifest.write_text(json.dumps([{"path": str(p.path), "kind": p.kind, "page": p.page}
                                        for p in test_pages]), encoding="utf-8")
        memex = _child("engine", "memex", str(manifest))
        tesseract = _child("engine", "tesseract", str(manifest)) if tesseract_installed() else None
        rows = engine_rows(test_pages, memex, tesseract)
        mixed = mixed_folder(root / "mixed", folder or DEFAULT_FOLDER)
        off, on = [], []
        for number in range(rounds):  # the last run with OCR goes on until the pages are read
            off.append(_child("folder", str(mixed), str(root / f"off{number}.db"), "off", *MARKERS))
            mode = "on-full" if number == rounds - 1 else "on"
            on.append(_child("folder", str(mixed), str(root / f"on{number}.db"), mode, *MARKERS))
        rows += folder_rows(off, on)
    return rows


def tesseract_installed() -> bool:
    import pymupdf

    try:
        pymupdf.get_tessdata()
    except RuntimeError:
        print(f"Tesseract rows empty: tesseract not installed ({TESSERACT_INSTALL}).", file=sys.stderr)
        return False
    return True


def _child(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "memex_bench.ocr_child", *args], capture_output=True,
                          text=True, timeout=3600, cwd=Path(__file__).resolve().parents[1])
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise RuntimeError(f"OCR benchmark process ({' '.join(args[:2])}) failed: {last}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- engines ---------------------------------------------------------------------------------------
def _error_rate(texts: list[str], pages: list[TestPage], variant: str | None = None) -> float:
    """Character error rate in %, over the pages (of one variant): all edits over all characters."""
    from .ocr_pages import edit_distance

    chosen = [(t, p) for t, p in zip(texts, pages, strict=True) if variant in (None, p.variant)]
    edits = sum(edit_distance(normalised(t), normalised(p.truth)) for t, p in chosen)
    return 100 * edits / max(sum(len(normalised(p.truth)) for _, p in chosen), 1)


def _figures(result: dict | None, pages: list[TestPage]) -> dict[str, float | None]:
    if result is None:
        return dict.fromkeys(("cer", "recall", "pages_s", "words_s", "cpu", "peak", "first"))
    seconds, truth_words = sum(result["seconds"]), sum(len(p.truth.split()) for p in pages)
    return {"cer": _error_rate(result["texts"], pages),
            "recall": 100 * sum(word_recall(t, p.truth) for t, p in zip(result["texts"], pages, strict=True))
            / len(pages),
            "pages_s": len(pages) / seconds, "words_s": truth_words / seconds,
            "cpu": result["cpu_s"] / len(pages), "peak": result["peak_mb"], "first": result["first_page_s"]}


def engine_rows(pages: list[TestPage], memex: dict, tesseract: dict | None) -> list[Row]:
    """Memex's engine in the value column, Tesseract beside it as the baseline."""
    ours, theirs = _figures(memex, pages), _figures(tesseract, pages)
    base = "Tesseract (PyMuPDF)" if tesseract else "Tesseract: not installed"
    name = memex["engine"]

    def row(figure: str, key: str, unit: str) -> Row:
        return Row(figure, float(ours[key] or 0.0), unit, "", base, theirs[key])

    rows = [row(f"OCR character error rate, {_pages(len(pages))} ({name})", "cer", "%")]
    for variant in _variants_in(pages):
        count = sum(p.variant == variant.label for p in pages)
        theirs_v = _error_rate(tesseract["texts"], pages, variant.label) if tesseract else None
        rows.append(Row(f"  … {variant.label} ({_pages(count)})",
                        _error_rate(memex["texts"], pages, variant.label), "%", "", base, theirs_v))
    rows += [
        row("OCR words a search finds (share of each page's words)", "recall", "%"),
        row("OCR speed", "pages_s", "pages/s"),
        row("OCR speed, words of the known text", "words_s", "words/s"),
        row("OCR CPU time per page (all threads)", "cpu", "s"),
        row("OCR peak memory, engine process", "peak", "MB"),
        row("OCR first page, engine start included", "first", "s"),
    ]
    return rows


def _pages(count: int) -> str:
    return f"{count} page" if count == 1 else f"{count} pages"


def _variants_in(pages: list[TestPage]) -> list[Variant]:
    present = {p.variant for p in pages}
    return [v for v in VARIANTS if v.label in present]


# -- the mixed folder ------------------------------------------------------------------------------
def mixed_folder(target: Path, real: Path) -> Path:
    """Text files, HTML, Word files and text PDFs from the real folder (built when missing),
    and scanned files whose marker words exist only in their pictures."""
    import pymupdf

    if not real.is_dir():
        build = Path(__file__).resolve().parents[2] / "realfolder" / "build_folder.py"
        subprocess.run([sys.executable, str(build), str(real)], check=True, timeout=3600)
    target.mkdir(parents=True)
    chosen: list[Path] = []
    for pattern, count in REAL_PICKS:
        chosen += sorted(p for p in real.glob(pattern) if p.is_file())[:count]
    text_pdfs = []
    for path in sorted(real.glob("pdf/**/*.pdf")):
        try:
            with pymupdf.open(path) as doc:
                if not doc.needs_pass and sum(len(page.get_text()) for page in doc) >= 200:
                    text_pdfs.append(path)
        except (RuntimeError, ValueError):
            continue
    chosen += text_pdfs[:TEXT_PDFS]
    for path in chosen:
        copy = target / "real" / path.relative_to(real)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, copy)
    write_scanned_files(target / "scans")
    return target


def write_scanned_files(folder: Path) -> None:
    """Two scanned PDFs, a PDF with a text page and a scanned page, and a screenshot: five
    pictures of text, each file with one of MARKERS on its first scanned page."""
    import pymupdf

    folder.mkdir(parents=True)
    texts = source_texts(SCANNED_SOURCES)
    by_label = {v.label: v for v in VARIANTS}
    plans = [  # file, [(variant, or None for a page with a text layer; its text)]
        ("letter-scan.pdf", [(by_label["300 dpi scan"], texts[0]), (by_label["150 dpi scan"], texts[1])]),
        ("receipt-scan.pdf", [(by_label["150 dpi, scanner noise"], texts[2])]),
        ("report-mixed.pdf", [(None, texts[3 % len(texts)]), (by_label["300 dpi, turned 2°"], texts[4 % len(texts)])]),
    ]
    pages = 0
    for (name, sheets), marker in zip(plans, MARKERS, strict=False):
        out = pymupdf.open()
        marked = False
        for variant, text in sheets:
            src = pymupdf.open()
            sheet = src.new_page()
            line = "" if marked or variant is None else f"Filed under {marker} archive"
            lay_out(sheet, text, "helv", 10.0, line)
            if variant is None:
                out.insert_pdf(src)
            else:
                pix = picture_of(sheet, variant, seed=pages)
                picture = out.new_page(width=pix.width * 72 / variant.dpi, height=pix.height * 72 / variant.dpi)
                picture.insert_image(picture.rect, pixmap=pix)
                marked, pages = True, pages + 1
            src.close()
        out.save(str(folder / name), garbage=3, deflate=True)
        out.close()
    make_page(texts[-1], by_label["PNG screenshot"], 0, folder / "screenshot.png",
              f"Filed under {MARKERS[3]} archive")


# -- rows for the folder ------------------------------------------------------------------------------
def folder_rows(off: list[dict], on: list[dict]) -> list[Row]:
    best_off, best_on = min(off, key=lambda r: r["words_s"]), min(on, key=lambda r: r["words_s"])
    delay = (best_on["words_s"] - best_off["words_s"]) / best_off["words_s"]
    note = f"best of {len(on)}"
    rows = [
        Row(f"all text-layer files searchable, OCR on ({best_on['files']} files, {note})", best_on["words_s"], "s",
            f"≤ {DELAY_TARGET:.0%} later", "OCR off (Settings ocr=False)", best_off["words_s"],
            delay <= DELAY_TARGET),
        Row("  … delay from OCR", 100 * delay, "%", f"≤ {DELAY_TARGET:.0%}", ok=delay <= DELAY_TARGET),
    ]
    full = on[-1]
    if full.get("ocr_s") is not None:
        rows.append(Row(f"scanned pages searchable ({full['ocr_pages_total']} pages, last run)", full["ocr_s"],
                        "s", "", "its text-layer files searchable", full["words_s"]))
    else:
        print("No scanned-page row: this build read no scanned pages while indexing.", file=sys.stderr)
    found = _markers_found(full)
    rows += [
        Row("scanned files found by a word only their pictures hold", found, f"of {len(MARKERS)}",
            f"{len(MARKERS)} of {len(MARKERS)}", "OCR off", _markers_found(off[-1]), found == len(MARKERS)),
        Row("peak memory, indexing process", max(r["peak_mb"] for r in on), "MB", "", "OCR off",
            max(r["peak_mb"] for r in off)),
        Row("peak memory, largest worker process (extraction, OCR)", max(r["workers_mb"] for r in on), "MB",
            "", "OCR off", max(r["workers_mb"] for r in off)),
    ]
    return rows


def _markers_found(result: dict) -> int:
    scanned = ("letter-scan.pdf", "receipt-scan.pdf", "report-mixed.pdf", "screenshot.png")
    return sum(1 for marker, name in zip(MARKERS, scanned, strict=True) if name in result["found"].get(marker, []))
