"""Office documents: docx, pptx, xlsx (python-docx, python-pptx, openpyxl) and ODF (odfpy)."""

from __future__ import annotations

import datetime as dt
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from memex.core.errors import CorruptFile, EncryptedFile
from memex.core.types import Extraction, Page

MAX_UNPACKED_BYTES = 500 * 1024 * 1024
MAX_ZIP_MEMBERS = 50_000
MAX_SHEET_ROWS = 100_000
MAX_CELLS = 2_000_000

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OOXML_KINDS = frozenset({"docx", "pptx", "xlsx"})


def check_zip(path: Path, label: str) -> None:
    """Refuse zip containers that are broken, unsafe, or that unpack to something huge.

    The central directory gives the names and declared sizes; then every member is inflated
    once in 1 MiB steps, because a member may inflate far past its declared size and
    zipfile's whole-member read (what the libraries below use) inflates it in one go before
    cutting it to that size.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_ZIP_MEMBERS:
                raise CorruptFile(f"the {label} file has too many parts ({len(infos)})")
            total = 0
            for info in infos:
                if _unsafe_member(info.filename):
                    raise CorruptFile(f"the {label} file contains an unsafe part name: {info.filename!r}")
                total += info.file_size
            if total > MAX_UNPACKED_BYTES:
                mib = total // (1024 * 1024)
                raise CorruptFile(f"the {label} file is too large when unpacked ({mib} MiB)")
            _check_inflated_sizes(zf, infos, label)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise CorruptFile(f"the {label} file is damaged (not a valid zip: {exc})") from None


def _check_inflated_sizes(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], label: str) -> None:
    """Inflate each member in bounded steps; one whose data runs past its declared size
    (zipfile stops there and reports a bad CRC) is refused. Members zipfile cannot read at
    all (unknown method, zip encryption) are left to the parser, which says why."""
    for info in infos:
        if info.is_dir() or info.compress_size == 0:
            continue
        try:
            with zf.open(info) as member:
                while member.read(1 << 20):
                    pass
        except zipfile.BadZipFile as exc:
            raise CorruptFile(f"the {label} file has a damaged part {info.filename!r} ({exc})") from None
        except (NotImplementedError, RuntimeError, zlib.error, EOFError, OSError):
            continue


def _unsafe_member(name: str) -> bool:
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        return True
    return ".." in PurePosixPath(normalized).parts


def extract_office(path: Path, kind: str, max_chars: int) -> Extraction:
    label = kind.upper()
    if kind in _OOXML_KINDS:
        with open(path, "rb") as fh:
            if fh.read(len(_OLE_MAGIC)) == _OLE_MAGIC:
                # Password-protected OOXML files are wrapped in an OLE compound file.
                raise EncryptedFile(f"the {label} file is password-protected")
    check_zip(path, label)
    if kind == "docx":
        return _docx(path, max_chars)
    if kind == "pptx":
        return _pptx(path, max_chars)
    if kind == "xlsx":
        return _xlsx(path, max_chars)
    return _odf(path, kind, max_chars)


def _clean_title(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return " ".join(value.split()) or None


class _Budget:
    """Counts characters so extractors can stop reading once ``max_chars`` is reached."""

    def __init__(self, max_chars: int) -> None:
        self.left = max_chars
        self.exhausted = False

    def take(self, text: str) -> bool:
        """Account for ``text``; False once the budget is spent (stop reading)."""
        self.left -= len(text) + 1
        if self.left < 0:
            self.exhausted = True
        return not self.exhausted


# --- docx ------------------------------------------------------------------------------


def _docx(path: Path, max_chars: int) -> Extraction:
    import docx

    document = docx.Document(str(path))
    budget = _Budget(max_chars)
    lines: list[str] = []
    for block in document.iter_inner_content():
        new = list(_docx_table_rows(block)) if hasattr(block, "rows") else [block.text]
        lines.extend(new)
        if not budget.take("\n".join(new)):
            break
    title = _clean_title(document.core_properties.title)
    return Extraction(
        pages=(Page(1, "\n".join(lines)),), kind="docx", title=title, truncated=budget.exhausted
    )


def _docx_table_rows(table: Any) -> Iterator[str]:
    for row in table.rows:
        seen: list[Any] = []
        cells: list[str] = []
        for cell in row.cells:
            if any(cell._tc is s for s in seen):  # merged cells repeat the same element
                continue
            seen.append(cell._tc)
            text = cell.text.strip()
            if text:
                cells.append(text)
        if cells:
            yield "\t".join(cells)


# --- pptx ------------------------------------------------------------------------------


def _pptx(path: Path, max_chars: int) -> Extraction:
    import pptx

    presentation = pptx.Presentation(str(path))
    budget = _Budget(max_chars)
    pages: list[Page] = []
    for number, slide in enumerate(presentation.slides, start=1):
        parts = list(_shape_texts(slide.shapes))
        if slide.has_notes_slide:
            frame = slide.notes_slide.notes_text_frame
            if frame is not None and frame.text.strip():
                parts.append(frame.text)
        text = "\n".join(p for p in parts if p.strip())
        pages.append(Page(number, text))
        if not budget.take(text):
            break
    title = _clean_title(presentation.core_properties.title)
    return Extraction(pages=tuple(pages), kind="pptx", title=title, truncated=budget.exhausted)


def _shape_texts(shapes: Iterable[Any]) -> Iterator[str]:
    """Text of every shape in reading order, descending into groups without recursion."""
    stack: list[Iterator[Any]] = [iter(shapes)]
    while stack:
        shape = next(stack[-1], None)
        if shape is None:
            stack.pop()
            continue
        if hasattr(shape, "shapes"):  # a group shape
            stack.append(iter(shape.shapes))
        elif getattr(shape, "has_text_frame", False):
            yield shape.text_frame.text
        elif getattr(shape, "has_table", False):
            for row in shape.table.rows:
                cells = [c.text.strip() for c in row.cells if c.text.strip()]
                if cells:
                    yield "\t".join(cells)


# --- xlsx ------------------------------------------------------------------------------


def _xlsx(path: Path, max_chars: int) -> Extraction:
    import openpyxl

    workbook = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    try:
        budget = _Budget(max_chars)
        cells_left = MAX_CELLS
        capped = False
        pages: list[Page] = []
        for number, sheet in enumerate(workbook.worksheets, start=1):
            if budget.exhausted or cells_left <= 0:
                break
            lines: list[str] = []
            if hasattr(sheet, "iter_rows"):
                if hasattr(sheet, "reset_dimensions"):
                    sheet.reset_dimensions()  # a wrong <dimension> would pad every row
                for row_index, row in enumerate(sheet.iter_rows(values_only=True)):
                    if row_index >= MAX_SHEET_ROWS or cells_left <= 0:
                        capped = True
                        break
                    cells_left -= len(row)
                    values = [_cell_text(v) for v in row]
                    line = "\t".join(v for v in values if v)
                    if line:
                        lines.append(line)
                        if not budget.take(line):
                            break
            text = "\n".join([sheet.title, *lines]) if lines else ""
            pages.append(Page(number, text))
        title = _clean_title(workbook.properties.title)
    finally:
        workbook.close()
    truncated = budget.exhausted or capped
    return Extraction(pages=tuple(pages), kind="xlsx", title=title, truncated=truncated)


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value).strip()


# --- OpenDocument ----------------------------------------------------------------------


def _odf(path: Path, kind: str, max_chars: int) -> Extraction:
    with zipfile.ZipFile(path) as zf:
        try:
            manifest = zf.read("META-INF/manifest.xml")
        except KeyError:
            manifest = b""
    if b"encryption-data" in manifest:
        raise EncryptedFile(f"the {kind.upper()} file is password-protected")

    from odf import opendocument

    document = opendocument.load(str(path))
    budget = _Budget(max_chars)
    if kind == "odt":
        text = "\n".join(_odf_paragraphs(document.text, budget))
        pages = (Page(1, text),)
    elif kind == "ods":
        pages = tuple(_ods_pages(document, budget))
    else:
        pages = tuple(_odp_pages(document, budget))
    return Extraction(
        pages=pages, kind=kind, title=_odf_title(document), truncated=budget.exhausted
    )


def _odf_paragraphs(root: Any, budget: _Budget) -> Iterator[str]:
    """Text of each text:p / text:h under ``root`` in document order (iteratively)."""
    from odf import teletype
    from odf.namespaces import TEXTNS

    stack: list[Any] = [root]
    while stack and not budget.exhausted:
        node = stack.pop()
        if getattr(node, "qname", None) in ((TEXTNS, "p"), (TEXTNS, "h")):
            text = teletype.extractText(node)
            budget.take(text)
            yield text
        else:
            stack.extend(reversed(getattr(node, "childNodes", ()) or ()))


def _ods_pages(document: Any, budget: _Budget) -> Iterator[Page]:
    from odf import table, teletype
    from odf.namespaces import TABLENS

    cell_names = ((TABLENS, "table-cell"), (TABLENS, "covered-table-cell"))
    for number, sheet in enumerate(document.spreadsheet.getElementsByType(table.Table), 1):
        if budget.exhausted:
            return
        lines: list[str] = []
        for row_index, row in enumerate(sheet.getElementsByType(table.TableRow)):
            if budget.exhausted or row_index >= MAX_SHEET_ROWS:
                budget.exhausted = True
                break
            cells = [
                " ".join(teletype.extractText(c).split())
                for c in row.childNodes
                if getattr(c, "qname", None) in cell_names
            ]
            line = "\t".join(c for c in cells if c)
            if line:
                lines.append(line)
                budget.take(line)
        name = sheet.getAttribute("name") or ""
        yield Page(number, "\n".join([name, *lines]) if lines else "")


def _odp_pages(document: Any, budget: _Budget) -> Iterator[Page]:
    from odf import draw

    for number, slide in enumerate(document.presentation.getElementsByType(draw.Page), 1):
        if budget.exhausted:
            return
        text = "\n".join(p for p in _odf_paragraphs(slide, budget) if p.strip())
        yield Page(number, text)


def _odf_title(document: Any) -> str | None:
    from odf import dc, teletype

    for element in document.meta.getElementsByType(dc.Title):
        title = _clean_title(teletype.extractText(element))
        if title:
            return title
    return None
