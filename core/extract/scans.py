"""Pages as pictures for OCR, bounded: a paged document's page drawn in grey, or a picture
(one frame of a TIFF) decoded — at most ``ENGINE_MAX_SIDE`` pixels a side, and a picture over
``MAX_IMAGE_PIXELS`` refused from its header before a single pixel is decoded."""

from __future__ import annotations

import contextlib
import functools
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from memex.core.errors import CorruptFile, EncryptedFile, ExtractionError
from PIL import Image, ImageOps, ImageStat, UnidentifiedImageError

MAX_IMAGE_PIXELS = 80_000_000  # a 600 dpi A3 scan is 70 MP; more is refused before decoding
MAX_OCR_PAGES = 500  # pages of one file left for OCR; later ones are not read
RENDER_DPI = 200  # a document's page is drawn at this resolution for the engine...
ENGINE_MAX_SIDE = 2400  # ...and no picture the engine reads is larger than this a side
PAGED_KINDS = frozenset({"pdf", "xps", "epub", "cbz", "fb2", "mobi"})

Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS  # Pillow's own refusal: at twice this

# numpy image: rows x columns x 3 (BGR, as the engine expects)
Array = Any


@dataclass(frozen=True)
class Picture:
    """What the engine reads (``pixels``), and the page's size in its own units (PDF points,
    or the image's pixels): boxes found in ``pixels`` are scaled to that size."""

    pixels: Array
    width: float
    height: float


def load_page(path: Path, kind: str, page: int) -> Picture:
    if kind == "image":
        return load_picture(path, page)
    if kind in PAGED_KINDS:
        return render_page(path, kind, page)
    raise ExtractionError(f"{kind} files have no pages to read by OCR", "unsupported")


def check_picture_size(width: int, height: int, name: str) -> None:
    """Refuse a picture too large to decode safely (its size comes from the header)."""
    if width * height > MAX_IMAGE_PIXELS:
        raise ExtractionError(
            f"{name} is too large to read ({width} × {height} pixels; at most "
            f"{MAX_IMAGE_PIXELS // 1_000_000} million)", "too-large")


@functools.cache
def register_picture_formats() -> None:
    """Teach Pillow the formats it reads through plugins: HEIC/HEIF (photos from phones), with
    pillow-heif. Once per process; without the plugin those files are refused as unreadable."""
    with contextlib.suppress(ImportError):
        from pillow_heif import register_heif_opener

        register_heif_opener()


def open_picture(path: Path) -> Image.Image:
    """The picture at ``path`` with only its header read; a one-line error for anything else."""
    register_picture_formats()
    try:
        with warnings.catch_warnings():  # over the cap: refused below, in one line; damaged: no notes
            warnings.simplefilter("ignore")
            return Image.open(path)
    except Image.DecompressionBombError:  # Pillow's own refusal, at twice the cap
        raise ExtractionError(f"{path.name} is too large to read (over {2 * MAX_IMAGE_PIXELS // 1_000_000} "
                              "million pixels)", "too-large") from None
    except UnidentifiedImageError:
        raise CorruptFile(f"{path.name} is not a picture Memex can read") from None


def load_picture(path: Path, page: int) -> Picture:
    """Frame ``page`` of the picture, at most ``ENGINE_MAX_SIDE`` a side, in the orientation
    the preview shows it (MuPDF turns a JPEG by its EXIF orientation, other formats not)."""
    with open_picture(path) as image:
        if page > 1:
            try:
                image.seek(page - 1)
            except EOFError:
                raise ExtractionError(f"{path.name} has no page {page}", "page") from None
        check_picture_size(image.width, image.height, path.name)
        width, height = image.size
        if image.format in ("JPEG", "MPO"):
            if image.getexif().get(0x0112, 1) in (5, 6, 7, 8):
                width, height = height, width
            image.thumbnail((ENGINE_MAX_SIDE, ENGINE_MAX_SIDE))  # decodes straight at the smaller size
            shown = flatten(ImageOps.exif_transpose(image))
        else:  # flattened first: a 1-bit or palette picture shrinks smoothly, not by dropping pixels
            shown = flatten(image)
            shown.thumbnail((ENGINE_MAX_SIDE, ENGINE_MAX_SIDE), Image.Resampling.LANCZOS)
        pixels = to_bgr(shown)
    return Picture(pixels, float(width), float(height))


def flatten(image: Image.Image) -> Image.Image:
    """8-bit grey or RGB. A transparent picture is laid on white (on black when its visible
    pixels are light: white text on a transparent background); 16-bit and float grey is
    stretched to its own range."""
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        alpha = rgba.getchannel("A")
        light = ImageStat.Stat(rgba.convert("L"), mask=alpha.point(lambda a: 255 if a else 0)).mean
        ground = Image.new("RGB", rgba.size, (0, 0, 0) if light and light[0] > 160 else (255, 255, 255))
        ground.paste(rgba, mask=alpha)
        return ground
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        values = np.asarray(image, dtype=np.float32)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / max(high - low, 1e-6))
        return Image.fromarray(scaled.astype(np.uint8), "L")
    if image.mode in ("1", "L"):
        return image.convert("L")
    return image.convert("RGB")


def to_bgr(image: Image.Image) -> Array:
    """The engine's input: three 8-bit channels, blue first, from a flattened picture."""
    import cv2

    if image.mode == "L":
        return cv2.cvtColor(np.asarray(image), cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2BGR)


def render_page(path: Path, kind: str, page: int) -> Picture:
    """The page drawn in grey, at ``RENDER_DPI`` but at most ``ENGINE_MAX_SIDE`` a side; a page
    holding a picture over ``MAX_IMAGE_PIXELS`` is refused before it is drawn."""
    import cv2

    from .mupdf_quiet import quiet_pymupdf

    pymupdf = quiet_pymupdf()
    label = kind.upper()
    try:
        doc = pymupdf.open(str(path), filetype=kind)
    except (RuntimeError, ValueError) as exc:
        raise CorruptFile(f"the {label} file could not be opened: {exc}") from None
    try:
        if doc.needs_pass:
            raise EncryptedFile(f"the {label} file is password-protected")
        if not 1 <= page <= doc.page_count:
            raise ExtractionError(f"the {label} file has no page {page}", "page")
        sheet = doc.load_page(page - 1)
        for info in sheet.get_images(full=False):
            check_picture_size(int(info[2]), int(info[3]), f"a picture on page {page}")
        rect = sheet.rect
        longest = max(rect.width, rect.height, 1.0)
        zoom = min(RENDER_DPI / 72, ENGINE_MAX_SIDE / longest)
        pix = sheet.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), colorspace=pymupdf.csGRAY, alpha=False)
        grey = np.frombuffer(pix.samples_mv, dtype=np.uint8).reshape(pix.height, pix.stride)[:, : pix.width]
        pixels = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
        return Picture(pixels, float(rect.width), float(rect.height))
    except (RuntimeError, ValueError) as exc:  # a damaged page
        raise CorruptFile(f"page {page} of the {label} file could not be drawn: {exc}") from None
    finally:
        doc.close()
