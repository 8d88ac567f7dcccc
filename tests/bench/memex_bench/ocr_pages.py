"""Test pages for ``memex bench ocr`` and how far a reading is from the known text.

The text is real: manual pages of this machine (``man NAME``, plain text), or its
``/usr/share/doc/*/copyright`` files where ``man`` is missing. It is laid out into PDF pages
with PyMuPDF's base-14 fonts, and those pages are rendered into the pictures a scanner or a
screenshot would give: image-only PDF pages at 300 and 150 dpi, one turned slightly as a
sheet fed crooked, one turned a quarter (scanned sideways), one with scanner noise, and a PNG
screenshot. The words placed on each page are its known text.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAN_PAGES = ("ls", "cp", "grep", "tar", "find", "sed", "gzip", "chmod", "sort", "diff", "date",
             "du", "ps", "kill", "tail", "cut", "xargs", "ln", "mv", "rm")
FONTS = ("helv", "tiro", "cour")  # Helvetica, Times, Courier
MARGIN = 64.0
_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "‐": "-", "−": "-", "–": "-",
                         "—": "-", "•": "o", "·": "."})


@dataclass(frozen=True)
class Variant:
    label: str
    dpi: int
    turn: float = 0.0  # degrees the picture is turned
    noise: bool = False
    kind: str = "pdf"  # "pdf": an image-only PDF page; "image": a PNG file


VARIANTS = (
    Variant("300 dpi scan", 300),
    Variant("150 dpi scan", 150),
    Variant("PNG screenshot", 110, kind="image"),
    Variant("300 dpi, turned 2°", 300, turn=2.0),
    Variant("150 dpi, scanner noise", 150, noise=True),
    Variant("300 dpi, sideways (90°)", 300, turn=90.0),
)


@dataclass(frozen=True)
class TestPage:
    path: Path
    kind: str  # "pdf" | "image", as read_scanned_page takes it
    page: int  # 1-based
    variant: str
    truth: str  # the words placed on the page, one line each


def plain(text: str) -> str:
    """Text the base-14 fonts can draw: typographic quotes and dashes made ASCII, the rest
    decomposed and kept only where it is ASCII."""
    text = unicodedata.normalize("NFKD", text.translate(_QUOTES))
    return text.encode("ascii", "ignore").decode("ascii")


def source_texts(names: tuple[str, ...] = MAN_PAGES) -> list[str]:
    """Real documents of this machine as lines of plain text, one string each."""
    texts: list[str] = []
    if shutil.which("man"):
        env = {**os.environ, "MANWIDTH": "80", "LC_ALL": "C.UTF-8", "MAN_KEEP_FORMATTING": ""}
        for name in names:
            proc = subprocess.run(["man", name], capture_output=True, text=True, env=env, check=False)
            if proc.returncode == 0 and len(proc.stdout) > 2000:
                texts.append(plain(proc.stdout))
    if len(texts) < len(names) // 2:  # no manual pages here: the packages' copyright files
        for path in sorted(glob.glob("/usr/share/doc/*/copyright")):
            text = Path(path).read_text(encoding="utf-8", errors="replace")
            if len(text) > 2000:
                texts.append(plain(text))
            if len(texts) >= len(names):
                break
    if not texts:
        raise RuntimeError("no text to make test pages from (neither man pages nor /usr/share/doc)")
    return texts


def _wrap(line: str, font: str, size: float, width: float) -> list[str]:
    import pymupdf

    pieces, current = [], ""
    for word in line.split():
        candidate = f"{current} {word}" if current else word
        if current and pymupdf.get_text_length(candidate, fontname=font, fontsize=size) > width:
            pieces.append(current)
            candidate = word
        current = candidate
    return pieces + ([current] if current else [])


def lay_out(page, text: str, font: str, size: float, first_line: str = "") -> tuple[list[str], float]:  # noqa: ANN001
    """Lines of ``text`` written onto ``page`` until it is full; the lines placed and the
    baseline of the last one."""
    width = page.rect.width - 2 * MARGIN
    y, placed = MARGIN + size, []
    lines = ([first_line] if first_line else []) + [ln for ln in text.splitlines() if ln.strip()]
    for line in lines:
        for piece in _wrap(re.sub(r"\s+", " ", line.strip()), font, size, width):
            if y > page.rect.height - MARGIN:
                return placed, y
            page.insert_text((MARGIN, y), piece, fontname=font, fontsize=size)
            placed.append(piece)
            y += size * 1.45
    return placed, y


def _noisy(pix, seed: int):  # noqa: ANN001, ANN202 - pymupdf.Pixmap in and out
    """Scanner noise: grain (σ 28 grey levels) and 0.4 % dust specks."""
    import pymupdf

    rng = np.random.default_rng(seed)
    grey = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width).astype(np.int16)
    grey = grey + rng.normal(0, 28, grey.shape).astype(np.int16)
    specks = rng.random(grey.shape)
    grey[specks < 0.002] = 0
    grey[specks > 0.998] = 255
    data = np.clip(grey, 0, 255).astype(np.uint8)
    return pymupdf.Pixmap(pymupdf.csGRAY, pix.width, pix.height, data.tobytes(), False)


def picture_of(page, variant: Variant, seed: int, clip_bottom: float | None = None):  # noqa: ANN001, ANN201
    """The page drawn as a scanner or a screen would give it (a pymupdf.Pixmap)."""
    import pymupdf

    zoom = variant.dpi / 72
    matrix = pymupdf.Matrix(zoom, zoom).prerotate(variant.turn)
    space = pymupdf.csRGB if variant.kind == "image" else pymupdf.csGRAY
    clip = pymupdf.Rect(0, 0, page.rect.width, clip_bottom) if clip_bottom else None
    pix = page.get_pixmap(matrix=matrix, colorspace=space, clip=clip, alpha=False)
    return _noisy(pix, seed) if variant.noise else pix


def write_scanned(pixmaps: list, dpi_of: list[int], path: Path) -> None:  # noqa: ANN001
    """An image-only PDF: each picture one page, sized to it at its resolution."""
    import pymupdf

    out = pymupdf.open()
    for pix, dpi in zip(pixmaps, dpi_of, strict=True):
        sheet = out.new_page(width=pix.width * 72 / dpi, height=pix.height * 72 / dpi)
        sheet.insert_image(sheet.rect, pixmap=pix)
    out.save(str(path), garbage=3, deflate=True)
    out.close()


def make_page(text: str, variant: Variant, number: int, path: Path, first_line: str = "") -> TestPage:
    """One test page of ``variant`` from ``text``, written to ``path`` (.pdf or .png)."""
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page()  # A4
    font = FONTS[number % len(FONTS)]
    size = 10.0 if variant.kind == "pdf" else 11.0
    if variant.kind == "image":  # a window's light background, cut below the text
        page.draw_rect(page.rect, color=None, fill=(0.95, 0.96, 0.98))
    placed, bottom = lay_out(page, text, font, size, first_line)
    clip = bottom + size if variant.kind == "image" else None
    pix = picture_of(page, variant, seed=number, clip_bottom=clip)
    doc.close()
    if variant.kind == "image":
        pix.set_dpi(variant.dpi, variant.dpi)
        pix.save(str(path))
    else:
        write_scanned([pix], [variant.dpi], path)
    return TestPage(path, variant.kind, 1, variant.label, "\n".join(placed))


def make_test_pages(folder: Path, count: int) -> list[TestPage]:
    """``count`` test pages in ``folder``, going through the variants in turn, each page
    holding text from another document."""
    folder.mkdir(parents=True, exist_ok=True)
    texts = source_texts()
    pages = []
    for number in range(count):
        variant = VARIANTS[number % len(VARIANTS)]
        text = texts[number % len(texts)]
        if number >= len(texts):  # a second round over the texts takes their later lines
            text = "\n".join(text.splitlines()[60:]) or text
        suffix = ".png" if variant.kind == "image" else ".pdf"
        pages.append(make_page(text, variant, number, folder / f"page{number + 1:02}{suffix}"))
    return pages


# -- how far a reading is from the truth -------------------------------------------------------
def normalised(text: str) -> str:
    return " ".join(plain(text).split())


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, one numpy row per character of ``a``: the insertion step
    (new[j] = min(d[j], new[j-1] + 1)) is a running minimum of d[j] - j, plus j."""
    if not a or not b:
        return len(a) + len(b)
    codes = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    index = np.arange(len(b) + 1, dtype=np.int64)
    row = index.copy()
    best = np.empty_like(row)
    for i, char in enumerate(a, 1):
        best[0] = i
        np.minimum(row[1:] + 1, row[:-1] + (codes != ord(char)), out=best[1:])
        row = np.minimum.accumulate(best - index) + index
    return int(row[-1])


def char_error_rate(read: str, truth: str) -> float:
    """Edits to turn what was read into the known text, per character of the known text
    (whitespace runs count as one space; 0 is perfect, 1 is nothing right)."""
    truth_n, read_n = normalised(truth), normalised(read)
    return edit_distance(read_n, truth_n) / max(len(truth_n), 1)


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", plain(text).lower()) if len(w) >= 3}


def word_recall(read: str, truth: str) -> float:
    """Share of the known text's distinct words (3+ letters) that the reading holds: what a
    search can find on the page."""
    wanted = _words(truth)
    return len(wanted & _words(read)) / max(len(wanted), 1)
