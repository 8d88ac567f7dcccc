"""Plain text, markdown, source code and text data formats, with encoding detection."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from memex.core.errors import BinaryFile, EmptyFile
from memex.core.types import Extraction, Page

_BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 LE must come before UTF-16 LE: its BOM starts with the same two bytes.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_HEAD_BYTES = 8192  # window for the NUL-byte / control-character checks (as git does)
_DETECT_BYTES = 65536  # sample handed to charset-normalizer
_PREFERRED_ENCODINGS = ("cp1252", "latin_1")
_CONTROL_RE = re.compile(r"[\x01-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>")
_MD_HEADING_RE = re.compile(r"^#\s+(.+?)\s*#*\s*$")


def read_limited(path: Path, limit: int) -> tuple[bytes, bool]:
    """Read at most ``limit`` bytes; the flag says whether the file had more."""
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        return data[:limit], True
    return data, False


def bom_encoding(data: bytes) -> tuple[str, int] | None:
    """(codec, BOM length) when ``data`` starts with a Unicode byte-order mark."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding, len(bom)
    return None


def decode_bytes(data: bytes, cut: bool = False) -> str:
    """Decode file bytes to text, or raise BinaryFile.

    ``cut`` means ``data`` is a prefix of the file, so a multi-byte character may be split
    at the end; that partial character is dropped instead of failing the decode.
    """
    found = bom_encoding(data)
    if found is not None:
        encoding, skip = found
        return _decode(data[skip:], encoding, cut)

    head = data[:_HEAD_BYTES]
    if b"\x00" in head:
        utf16 = _guess_utf16(head)
        if utf16 is None:
            raise BinaryFile("the file contains binary data, not text")
        return _decode(data, utf16, cut)

    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(data, final=not cut)
    except UnicodeDecodeError:
        text = _decode_detected(data, cut)
    if _mostly_control(text[:_HEAD_BYTES]):
        raise BinaryFile("the file contains binary data, not text")
    return text


def _decode(data: bytes, encoding: str, cut: bool) -> str:
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    return decoder.decode(data, final=not cut)


def _decode_detected(data: bytes, cut: bool) -> str:
    from charset_normalizer import from_bytes

    results = from_bytes(data[:_DETECT_BYTES])
    best = results.best()
    if best is None or best.encoding is None:
        raise BinaryFile("the file is not text in any encoding Memex recognises")
    # Short Western-European texts read equally well in several code pages (é in cp1250
    # vs cp1252); among the equally good readings prefer the most common one.
    tied: set[str] = set()
    for match in results:
        if match.chaos <= best.chaos + 0.01 and match.coherence >= best.coherence - 0.01:
            tied.add(match.encoding)
            tied.update(match.could_be_from_charset)
    encoding = next((e for e in _PREFERRED_ENCODINGS if e in tied), best.encoding)
    try:
        return _decode(data, encoding, cut)
    except LookupError:
        raise BinaryFile(f"unknown text encoding {encoding!r}") from None


def _guess_utf16(head: bytes) -> str | None:
    """UTF-16 without a BOM: NULs in (almost) every other byte, and it decodes."""
    if len(head) < 4:
        return None
    head = head[: len(head) // 2 * 2]
    even, odd = head[0::2], head[1::2]
    half = len(odd)
    if odd.count(0) >= 0.6 * half and even.count(0) <= 0.05 * half:
        encoding = "utf-16-le"
    elif even.count(0) >= 0.6 * half and odd.count(0) <= 0.05 * half:
        encoding = "utf-16-be"
    else:
        return None
    try:
        head.decode(encoding)
    except UnicodeDecodeError:
        return None
    return encoding


def _mostly_control(sample: str) -> bool:
    return bool(sample) and len(_CONTROL_RE.findall(sample)) > 0.1 * len(sample)


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def extract_text(path: Path, kind: str, max_chars: int) -> Extraction:
    """One page holding the decoded file (XML is reduced to its text content)."""
    data, cut = read_limited(path, max_chars * 4 + 4)
    if not data.strip():
        raise EmptyFile("the file is empty")
    text = normalize_newlines(decode_bytes(data, cut))
    if not text.strip():
        raise EmptyFile("the file contains only whitespace")
    title = None
    if kind == "xml":
        text = _xml_text(text) or text
    elif kind == "markdown":
        title = _markdown_title(text)
    return Extraction(pages=(Page(1, text),), kind=kind, title=title, truncated=cut)


def _markdown_title(text: str) -> str | None:
    """The first level-1 ATX heading near the top, if any."""
    for line in text.split("\n", 60)[:60]:
        match = _MD_HEADING_RE.match(line)
        if match:
            return match.group(1)
    return None


def _xml_text(text: str) -> str:
    """Text nodes of an XML document, one per line; '' if it does not parse."""
    from lxml import etree

    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        recover=True,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(_XML_DECL_RE.sub("", text, count=1), parser)
    except (etree.LxmlError, ValueError):
        return ""
    if root is None:
        return ""
    lines = (t.strip() for t in root.itertext())
    return "\n".join(line for line in lines if line)
