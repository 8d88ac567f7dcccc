"""Files for the OCR tests, made on the spot: a text PDF and image-only copies of it (rendered at
a resolution, turned, with noise), pictures of text drawn with Pillow; and the character error
rate to compare what OCR read with the known text."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pymupdf
from PIL import Image, ImageDraw, ImageFilter, ImageFont

LINES = (
    "The quarterly report describes the harbour survey carried out in March.",
    "Measurements were taken at seventeen stations along the northern breakwater.",
    "Water depth ranged from four to eleven metres, with sediment mostly fine sand.",
    "The committee recommends dredging the approach channel before the autumn storms.",
    "Invoice number 48213 covers the equipment hire and the diving crew.",
    "Please send questions to the harbour office before the end of the month.",
)
TEXT = "\n".join(LINES)
PAGE_W, PAGE_H = 595.0, 842.0  # A4 in points


def make_text_pdf(path: Path, lines: tuple[str, ...] = LINES, top: float = 72.0) -> Path:
    """One A4 page of 11 pt Helvetica lines with a text layer."""
    doc = pymupdf.open()
    page = doc.new_page(width=PAGE_W, height=PAGE_H)
    for index, line in enumerate(lines):
        page.insert_text((72, top + 18 * index), line, fontsize=11, fontname="helv")
    doc.save(str(path))
    doc.close()
    return Path(path)


def page_image(text_pdf: Path, dpi: int, noise: float = 0.0, skew_deg: float = 0.0, seed: int = 7) -> bytes:
    """Page 1 of ``text_pdf`` as a grey PNG at ``dpi``, like a scanner makes it: tilted by
    ``skew_deg``, with Gaussian grain (``noise`` = its standard deviation in grey levels) and
    as many speckles per hundred pixels."""
    with pymupdf.open(str(text_pdf)) as doc:
        pix = doc[0].get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
        grey = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width).astype(np.float32)
    if noise:
        rng = np.random.default_rng(seed)
        grey += rng.normal(0.0, noise, grey.shape)
        specks = rng.random(grey.shape) < noise / 1000
        grey[specks] = 255 - grey[specks]
    picture = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8), "L")
    if skew_deg:
        picture = picture.rotate(skew_deg, resample=Image.Resampling.BILINEAR, fillcolor=255)
    if noise:
        picture = picture.filter(ImageFilter.GaussianBlur(0.6))
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def add_scanned_page(doc: pymupdf.Document, png: bytes, rotate: int = 0) -> None:
    """A page holding only ``png``, full page; ``rotate`` (90, 270) turns the picture on a
    landscape page, as a scan of a page fed in sideways."""
    on_side = rotate in (90, 270)
    page = doc.new_page(width=PAGE_H if on_side else PAGE_W, height=PAGE_W if on_side else PAGE_H)
    page.insert_image(page.rect, stream=png, rotate=rotate)


def levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def cer(read: str, truth: str) -> float:
    """Character error rate: edits to turn ``read`` into ``truth`` over ``truth``'s length
    (runs of white space count as one space)."""
    read, truth = " ".join(read.split()), " ".join(truth.split())
    return levenshtein(read, truth) / max(len(truth), 1)


def draw_text_picture(path: Path, lines: tuple[str, ...], size: int = 28, mode: str = "RGB",
                      margin: int = 40) -> dict[str, tuple[float, float, float, float]]:
    """A screenshot-like picture: dark lines of text in Pillow's own font on a light window,
    a coloured title bar above. Returns each word's drawn box in pixels."""
    font = ImageFont.load_default(size=size)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    width = int(max(probe.textlength(line, font=font) for line in lines)) + 2 * margin
    line_h = int(size * 1.6)
    height = margin * 2 + 40 + line_h * len(lines)
    picture = Image.new("RGB", (width, height), (250, 250, 247))
    draw = ImageDraw.Draw(picture)
    draw.rectangle((0, 0, width, 32), fill=(60, 90, 160))
    boxes: dict[str, tuple[float, float, float, float]] = {}
    for index, line in enumerate(lines):
        y = margin + 40 + index * line_h
        draw.text((margin, y), line, fill=(30, 30, 30), font=font)
        x = float(margin)
        for word in line.split(" "):
            left, top, right, bottom = draw.textbbox((x, y), word, font=font)
            boxes.setdefault(word, (left, top, right, bottom))
            x += draw.textlength(word + " ", font=font)
    picture.convert(mode).save(path)
    return boxes
