"""Pictures and scanned pages as files: which kinds are pictures, what extraction leaves for OCR
(every picture, each TIFF page, only the empty pages of a mixed PDF, comic pages), pictures too
large to decode refused from their header, and OCR on a screenshot and a TIFF page."""

from __future__ import annotations

import io
import struct
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import ocr_fixtures as fx
import pymupdf
import pytest
from memex.core.errors import EmptyFile, ExtractionError
from memex.core.extract import SUPPORTED_KINDS, detect_kind, extract_file
from memex.core.extract.images import extract_image
from memex.core.extract.ocr import MAX_IMAGE_PIXELS, MAX_OCR_PAGES, read_scanned_page
from memex.core.extract.registry import kind_named
from memex.core.extract.scans import register_picture_formats
from memex.core.extract.worker import ExtractionWorker
from memex.core.preview.render import render_page
from memex.core.types import Page
from PIL import Image, ImageDraw, ImageFont

DEADLINE_S = 120.0


@pytest.mark.parametrize("name", ["a.png", "b.JPG", "c.jpeg", "d.jpe", "e.tif", "f.TIFF", "g.webp", "h.bmp",
                                  "i.gif", "j.heic", "k.HEIF"])
def test_pictures_are_a_kind(tmp_path: Path, name: str) -> None:
    assert detect_kind(tmp_path / name) == "image"
    assert "image" in SUPPORTED_KINDS
    assert kind_named("picture") == kind_named("png") == kind_named(".jpg") == "image"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "GIF", "HEIF"])
def test_a_picture_is_one_page_left_for_ocr(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"note.{fmt.lower()}"
    register_picture_formats()  # HEIF is written (and read) through pillow-heif
    Image.new("RGB", (300, 200), "white").save(path, fmt)
    result = extract_file(path)
    assert result == extract_image(path, "image", 1000)
    assert (result.kind, result.pages, result.ocr_pages, result.title, result.truncated) == (
        "image", (Page(1, ""),), (1,), None, False)


def test_a_multi_page_tiff_is_one_page_per_frame(tmp_path: Path) -> None:
    path = tmp_path / "letters.tiff"
    frames = [Image.new("L", (400, 300), shade) for shade in (255, 230, 200)]
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="tiff_lzw")
    result = extract_file(path)
    assert [p.number for p in result.pages] == [1, 2, 3] and result.ocr_pages == (1, 2, 3)
    assert not result.truncated


def test_a_tiff_with_more_pages_than_the_cap_is_cut(tmp_path: Path) -> None:
    path = tmp_path / "huge.tif"
    frames = [Image.new("1", (32, 32), 1) for _ in range(MAX_OCR_PAGES + 3)]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    result = extract_file(path)
    assert len(result.ocr_pages) == len(result.pages) == MAX_OCR_PAGES and result.truncated


def test_a_tiny_picture_holds_no_text_and_a_broken_one_says_so(tmp_path: Path) -> None:
    Image.new("RGB", (12, 12), "red").save(tmp_path / "icon.png")
    with pytest.raises(EmptyFile):
        extract_file(tmp_path / "icon.png")
    (tmp_path / "fake.jpg").write_bytes(b"<html>not a picture</html>")
    with pytest.raises(ExtractionError) as info:
        extract_file(tmp_path / "fake.jpg")
    assert info.value.reason == "corrupt" and "\n" not in str(info.value)


def _bomb_png(path: Path, width: int, height: int) -> Path:
    """A real, valid 1-bit PNG of white pixels: small on disk, a byte a pixel as Pillow would
    hold it decoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize(("width", "height", "says"), [
    (30_000, 30_000, "over 160 million pixels"),  # 900 MB decoded: Pillow's own limit (twice ours)
    (10_000, 9_000, "10000 × 9000 pixels"),  # 90 MB decoded: over our cap, under Pillow's
])
def test_a_decompression_bomb_is_refused_from_its_header(tmp_path: Path, width: int, height: int,
                                                         says: str) -> None:
    bomb = _bomb_png(tmp_path / "bomb.png", width, height)
    assert bomb.stat().st_size < 1_000_000 and width * height > MAX_IMAGE_PIXELS
    started = time.monotonic()
    for call in (lambda: extract_file(bomb), lambda: read_scanned_page(bomb, "image", 1, DEADLINE_S)):
        with pytest.raises(ExtractionError) as info:
            call()
        # Refused from the header (the message says why), not after running out of memory decoding it.
        assert info.value.reason == "too-large" and says in str(info.value)
    assert time.monotonic() - started < 2.0
    # In the extraction worker under a 300 MB cap: decoding it would fail on memory instead.
    with ExtractionWorker(timeout_s=60, memory_mb=300) as worker, pytest.raises(ExtractionError) as info:
        worker.extract(bomb)
    assert info.value.reason == "too-large" and says in str(info.value)


def test_a_mixed_pdf_leaves_only_its_scanned_pages_for_ocr(tmp_path: Path) -> None:
    source = fx.make_text_pdf(tmp_path / "text.pdf")
    doc = pymupdf.open()
    doc.new_page(width=fx.PAGE_W, height=fx.PAGE_H).insert_text((72, 72), "A typed cover letter.", fontsize=11)
    fx.add_scanned_page(doc, fx.page_image(source, 100))
    doc.new_page(width=fx.PAGE_W, height=fx.PAGE_H)  # blank: nothing to read
    doc.save(str(tmp_path / "mixed.pdf"))
    doc.close()
    result = extract_file(tmp_path / "mixed.pdf")
    assert result.ocr_pages == (2,)
    assert "typed cover letter" in result.pages[0].text and result.pages[1:] == (Page(2, ""), Page(3, ""))


def test_a_pdf_of_scans_only_and_a_comic_book_come_back_for_ocr(tmp_path: Path) -> None:
    source = fx.make_text_pdf(tmp_path / "text.pdf")
    doc = pymupdf.open()
    for _ in range(2):
        fx.add_scanned_page(doc, fx.page_image(source, 72))
    doc.save(str(tmp_path / "scans.pdf"))
    doc.close()
    assert extract_file(tmp_path / "scans.pdf").ocr_pages == (1, 2)
    with zipfile.ZipFile(tmp_path / "comic.cbz", "w") as comic:
        for number in (1, 2, 3):
            out = io.BytesIO()
            Image.new("RGB", (200, 300), "white").save(out, "PNG")
            comic.writestr(f"page{number:02}.png", out.getvalue())
    result = extract_file(tmp_path / "comic.cbz")
    assert result.ocr_pages == (1, 2, 3) and all(p.text == "" for p in result.pages)


def test_pictures_open_as_pages_for_the_preview(tmp_path: Path) -> None:
    """MuPDF opens PNG, JPEG and TIFF pictures as documents (a TIFF page per page), so the
    preview draws them; a JPEG turned by its EXIF orientation is shown turned, and OCR reports
    its size the same way. A HEIC photo is drawn through Pillow and pillow-heif."""
    Image.new("RGB", (300, 200), "white").save(tmp_path / "a.png")
    frames = [Image.new("L", (300, 200), 255) for _ in range(3)]
    frames[0].save(tmp_path / "b.tif", save_all=True, append_images=frames[1:])
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways, shown turned a quarter right
    Image.new("RGB", (300, 200), "white").save(tmp_path / "c.jpg", exif=exif)
    assert pymupdf.open(str(tmp_path / "a.png")).page_count == 1
    assert pymupdf.open(str(tmp_path / "b.tif")).page_count == 3
    shown = pymupdf.open(str(tmp_path / "c.jpg"))[0].rect
    assert shown.width < shown.height
    register_picture_formats()
    Image.new("RGB", (300, 200), "white").save(tmp_path / "d.heic")  # MuPDF cannot: Pillow draws it
    drawn = render_page(str(tmp_path / "d.heic"), 1, [], 150)
    assert (drawn.width, drawn.height, drawn.page_count) == (150, 100, 1)


@pytest.mark.slow
def test_a_screenshot_is_read_with_word_boxes_in_pixels(tmp_path: Path) -> None:
    lines = ("Quarterly harbour survey", "Invoice 48213 for diving crew", "Send questions by Friday")
    drawn = fx.draw_text_picture(tmp_path / "shot.png", lines, size=28, mode="RGBA")
    page = read_scanned_page(tmp_path / "shot.png", "image", 1, DEADLINE_S)
    assert fx.cer(page.text, "\n".join(lines)) <= 0.02, page.text
    with Image.open(tmp_path / "shot.png") as picture:
        assert (page.width, page.height) == picture.size
    found = {w.text: w for w in page.words}
    for word in ("Quarterly", "Invoice", "48213", "questions"):
        x0, y0, x1, y1 = drawn[word]
        box = found[word]
        assert abs(box.x0 - x0) <= 8 and abs(box.x1 - x1) <= 8, (word, box, drawn[word])
        assert box.y0 - 8 <= (y0 + y1) / 2 <= box.y1 + 8


@pytest.mark.slow
def test_each_tiff_page_is_read_on_its_own(tmp_path: Path) -> None:
    font = ImageFont.load_default(size=40)
    frames = []
    for word in ("lighthouse", "breakwater", "seventeen"):
        frame = Image.new("L", (600, 160), 255)
        ImageDraw.Draw(frame).text((30, 50), word, fill=0, font=font)
        frames.append(frame)
    path = tmp_path / "pages.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    assert read_scanned_page(path, "image", 2, DEADLINE_S).text == "breakwater"
    with pytest.raises(ExtractionError) as info:
        read_scanned_page(path, "image", 4, DEADLINE_S)
    assert info.value.reason == "page"


@pytest.mark.slow
def test_a_phone_photo_in_heic_is_read(tmp_path: Path) -> None:
    register_picture_formats()
    drawn = tmp_path / "receipt.png"
    fx.draw_text_picture(drawn, ("Harbour cafe receipt", "Total 48213"), size=36)
    with Image.open(drawn) as picture:
        picture.save(tmp_path / "receipt.heic", quality=92)
    assert (tmp_path / "receipt.heic").read_bytes()[4:12] == b"ftypheic"
    assert extract_file(tmp_path / "receipt.heic").ocr_pages == (1,)
    page = read_scanned_page(tmp_path / "receipt.heic", "image", 1, DEADLINE_S)
    assert "receipt" in page.text and "48213" in page.text, page.text


@pytest.mark.slow
def test_pictures_in_awkward_forms_are_read(tmp_path: Path) -> None:
    """A JPEG stored sideways with an EXIF orientation (read, and sized, as shown), a 16-bit
    grey PNG whose darkest ink is above 8-bit white, a 1-bit TIFF, white text on a transparent
    PNG."""
    lines = ("Harbour survey 48213",)
    fx.draw_text_picture(tmp_path / "shot.png", lines, size=40)
    with Image.open(tmp_path / "shot.png") as shot:
        shot.load()
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned a quarter right: stored turned a quarter left
    shot.rotate(90, expand=True).save(tmp_path / "phone.jpg", exif=exif, quality=90)
    grey = np.asarray(shot.convert("L")).astype(np.uint16) * 200 + 5000  # grey ink: no 8-bit level is dark
    Image.fromarray(grey).save(tmp_path / "deep.png")
    shot.convert("L").point(lambda v: 255 if v > 128 else 0).convert("1").save(tmp_path / "fax.tif")
    ink = np.asarray(shot.convert("L")) < 128
    clear = np.zeros((*ink.shape, 4), dtype=np.uint8)
    clear[ink] = (255, 255, 255, 255)
    Image.fromarray(clear, "RGBA").save(tmp_path / "clear.png")
    for name in ("phone.jpg", "deep.png", "fax.tif", "clear.png"):
        page = read_scanned_page(tmp_path / name, "image", 1, DEADLINE_S)
        assert fx.cer(page.text, lines[0]) <= 0.05, (name, page.text)
        assert (page.width, page.height) == shot.size, name


def test_a_damaged_or_vanished_picture_fails_in_one_line(tmp_path: Path) -> None:
    fx.draw_text_picture(tmp_path / "whole.png", ("Harbour survey",))
    data = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])  # the header is whole, the pixels are not
    (tmp_path / "odd.tif").write_bytes(b"II*\x00" + b"\xff" * 100)
    for name, reason in (("cut.png", "corrupt"), ("odd.tif", "corrupt"), ("gone.png", "missing")):
        with pytest.raises(ExtractionError) as info:
            read_scanned_page(tmp_path / name, "image", 1, DEADLINE_S)
        assert info.value.reason == reason and name in str(info.value) and "\n" not in str(info.value)
