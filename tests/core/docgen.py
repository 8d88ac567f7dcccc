"""Generate small, deterministic fixture documents for tests (nothing is checked in).

Also holds ``misbehaving_extract``, an extraction target for ``ExtractionWorker`` tests that
hangs, crashes or runs out of memory depending on the file name.
"""

from __future__ import annotations

import os
import signal
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from memex.core.types import Extraction

if TYPE_CHECKING:
    import pymupdf

_FIXED_ZIP_TIME = (2024, 1, 1, 0, 0, 0)


# --- PDF -------------------------------------------------------------------------------


def make_pdf(path: Path, pages: Sequence[str], title: str | None = None) -> Path:
    """A PDF with one page per string; long texts wrap (and shrink) to fit the page."""
    import pymupdf

    doc = pymupdf.open()
    for text in pages:
        _add_text_page(doc, text)
    if title is not None:
        doc.set_metadata({"title": title})
    doc.save(str(path), garbage=3, deflate=True, no_new_id=True)
    doc.close()
    return Path(path)


def _add_text_page(doc: pymupdf.Document, text: str) -> None:
    import pymupdf

    for fontsize in (11, 9, 7, 5, 4):
        page = doc.new_page(width=595, height=842)
        if not text:
            return
        rect = pymupdf.Rect(50, 50, 545, 792)
        if page.insert_textbox(rect, text, fontsize=fontsize, fontname="helv") >= 0:
            return
        doc.delete_page(-1)
    raise ValueError(f"page text too long for one PDF page ({len(text)} chars)")


def make_encrypted_pdf(path: Path, text: str, password: str = "secret") -> Path:
    import pymupdf

    doc = pymupdf.open()
    _add_text_page(doc, text)
    doc.save(
        str(path),
        encryption=pymupdf.PDF_ENCRYPT_AES_256,
        user_pw=password,
        owner_pw=password + "-owner",
        no_new_id=True,
    )
    doc.close()
    return Path(path)


def make_scanned_pdf(path: Path) -> Path:
    """A page carrying only an image, like a scan without OCR."""
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    pixmap = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 64, 64), False)
    pixmap.clear_with(200)
    page.insert_image(pymupdf.Rect(50, 50, 545, 792), pixmap=pixmap)
    doc.save(str(path), no_new_id=True)
    doc.close()
    return Path(path)


def make_broken_pdf(path: Path) -> Path:
    Path(path).write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog garbage \x8f\x02\nnot a pdf\n")
    return Path(path)


# --- Office ----------------------------------------------------------------------------


def make_docx(
    path: Path,
    paragraphs: Sequence[str],
    title: str | None = None,
    table: Sequence[Sequence[str]] | None = None,
) -> Path:
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=max(len(r) for r in table))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    if title is not None:
        document.core_properties.title = title
    document.save(str(path))
    return Path(path)


def make_pptx(path: Path, slides: Sequence[str], title: str | None = None) -> Path:
    """One slide per string, each with a single text box."""
    import pptx
    from pptx.util import Inches

    presentation = pptx.Presentation()
    blank = presentation.slide_layouts[6]
    for text in slides:
        slide = presentation.slides.add_slide(blank)
        if text:
            box = slide.shapes.add_textbox(Inches(1), Inches(1), Inches(8), Inches(4))
            box.text_frame.text = text
    if title is not None:
        presentation.core_properties.title = title
    presentation.save(str(path))
    return Path(path)


def make_xlsx(
    path: Path,
    rows: Sequence[Sequence[object]],
    extra_sheets: dict[str, Sequence[Sequence[object]]] | None = None,
) -> Path:
    """``rows`` fill the first sheet ("Sheet1"); ``extra_sheets`` add more, in order."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Sheet1"
    for row in rows:
        sheet.append(list(row))
    for name, sheet_rows in (extra_sheets or {}).items():
        extra = workbook.create_sheet(name)
        for row in sheet_rows:
            extra.append(list(row))
    workbook.save(str(path))
    return Path(path)


def make_odt(path: Path, paragraphs: Sequence[str], title: str | None = None) -> Path:
    from odf import dc, text
    from odf.opendocument import OpenDocumentText

    document = OpenDocumentText()
    for value in paragraphs:
        document.text.addElement(text.P(text=value))
    if title is not None:
        document.meta.addElement(dc.Title(text=title))
    document.save(str(path))
    return Path(path)


def make_ods(path: Path, rows: Sequence[Sequence[str]], sheet: str = "Data") -> Path:
    from odf import table, text
    from odf.opendocument import OpenDocumentSpreadsheet

    document = OpenDocumentSpreadsheet()
    grid = table.Table(name=sheet)
    for row in rows:
        tr = table.TableRow()
        for value in row:
            cell = table.TableCell(valuetype="string")
            cell.addElement(text.P(text=value))
            tr.addElement(cell)
        grid.addElement(tr)
    document.spreadsheet.addElement(grid)
    document.save(str(path))
    return Path(path)


def make_odp(path: Path, slides: Sequence[str]) -> Path:
    from odf import draw, style, text
    from odf.opendocument import OpenDocumentPresentation

    document = OpenDocumentPresentation()
    layout = style.PageLayout(name="Layout")
    document.automaticstyles.addElement(layout)
    master = style.MasterPage(name="Master", pagelayoutname=layout)
    document.masterstyles.addElement(master)
    for number, value in enumerate(slides, 1):
        page = draw.Page(name=f"Slide{number}", masterpagename=master)
        frame = draw.Frame(width="20cm", height="5cm", x="1cm", y="1cm")
        box = draw.TextBox()
        box.addElement(text.P(text=value))
        frame.addElement(box)
        page.addElement(frame)
        document.presentation.addElement(page)
    document.save(str(path))
    return Path(path)


# --- EPUB / HTML / text ----------------------------------------------------------------


def make_epub(path: Path, chapters: Sequence[str], title: str) -> Path:
    """A minimal valid EPUB 3: one XHTML file per chapter, in spine order."""
    items = "".join(
        f'<item id="c{i}" href="c{i}.xhtml" media-type="application/xhtml+xml"/>'
        for i in range(len(chapters))
    )
    spine = "".join(f'<itemref idref="c{i}"/>' for i in range(len(chapters)))
    nav_links = "".join(
        f'<li><a href="c{i}.xhtml">Chapter {i + 1}</a></li>' for i in range(len(chapters))
    )
    files: dict[str, str] = {
        "META-INF/container.xml": (
            '<?xml version="1.0"?><container version="1.0" '
            'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
            '<rootfile full-path="OEBPS/content.opf" '
            'media-type="application/oebps-package+xml"/></rootfiles></container>'
        ),
        "OEBPS/content.opf": (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<package xmlns="http://www.idpf.org/2007/opf" version="3.0" '
            'unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f'<dc:identifier id="id">urn:uuid:memex-test</dc:identifier>'
            f"<dc:title>{_xml_escape(title)}</dc:title><dc:language>en</dc:language>"
            '<meta property="dcterms:modified">2024-01-01T00:00:00Z</meta></metadata>'
            '<manifest><item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" '
            f'properties="nav"/>{items}</manifest><spine>{spine}</spine></package>'
        ),
        "OEBPS/nav.xhtml": _xhtml(
            "Contents",
            '<nav xmlns:epub="http://www.idpf.org/2007/ops" epub:type="toc">'
            f"<ol>{nav_links}</ol></nav>",
        ),
    }
    for i, chapter in enumerate(chapters):
        files[f"OEBPS/c{i}.xhtml"] = _xhtml(f"Chapter {i + 1}", f"<p>{_xml_escape(chapter)}</p>")
    with zipfile.ZipFile(path, "w") as zf:
        # The mimetype entry must come first and be stored uncompressed.
        zf.writestr(_zip_info("mimetype", zipfile.ZIP_STORED), "application/epub+zip")
        for name, content in files.items():
            zf.writestr(_zip_info(name, zipfile.ZIP_DEFLATED), content)
    return Path(path)


def _xhtml(title: str, body: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><!DOCTYPE html>'
        '<html xmlns="http://www.w3.org/1999/xhtml"><head>'
        f"<title>{_xml_escape(title)}</title></head><body>{body}</body></html>"
    )


def _zip_info(name: str, compression: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_FIXED_ZIP_TIME)
    info.compress_type = compression
    return info


def _xml_escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def make_html(path: Path, title: str, body_paragraphs: Sequence[str]) -> Path:
    """An HTML page whose script/style/noscript hold the marker words HIDDENSCRIPT etc."""
    paragraphs = "\n".join(f"<p>{_xml_escape(p)}</p>" for p in body_paragraphs)
    Path(path).write_text(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{_xml_escape(title)}</title>"
        "<style>body { color: HIDDENSTYLE; }</style>"
        "<script>var x = 'HIDDENSCRIPT';</script></head>\n<body>\n"
        "<noscript>HIDDENNOSCRIPT</noscript>\n"
        f"{paragraphs}\n</body></html>\n",
        encoding="utf-8",
    )
    return Path(path)


def make_binary_txt(path: Path) -> Path:
    """A ``.txt`` name over bytes that are not text (NULs and every byte value)."""
    Path(path).write_bytes(bytes(range(256)) * 16)
    return Path(path)


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    """A plain zip with the given members (for container-safety tests)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(_zip_info(name, zipfile.ZIP_DEFLATED), data)
    return Path(path)


# --- worker test target ----------------------------------------------------------------


def misbehaving_extract(path: Path, max_chars: int, kind: str | None = None) -> Extraction:
    """``extract_file``, except for files named hang*, crash* or oom*."""
    name = Path(path).name
    if name.startswith("hang"):
        time.sleep(3600)
    if name.startswith("crash"):
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
    if name.startswith("oom"):
        hog = bytearray(8 * 1024**3)  # far above the test's memory cap
        del hog
    from memex.core.extract import extract_file

    return extract_file(path, max_chars, kind)
