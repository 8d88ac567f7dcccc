"""HTML and XHTML to readable text with lxml, without touching the network."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from lxml import etree
from lxml import html as lxml_html
from memex.core.errors import EmptyFile
from memex.core.types import Extraction, Page

from .text import bom_encoding, decode_bytes, normalize_newlines, read_limited

_SKIP_TAGS = frozenset(
    {"head", "script", "style", "noscript", "template", "iframe", "object", "svg", "math"}
)
# Blocks that end a paragraph (a blank line) and blocks that only end a line.
_PARAGRAPH_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "dl", "fieldset", "figure", "footer",
        "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "main", "nav", "ol", "p",
        "pre", "section", "table", "ul",
    }
)
_LINE_TAGS = frozenset(
    {
        "body", "caption", "dd", "details", "dialog", "div", "dt", "figcaption", "html",
        "legend", "li", "option", "summary", "tbody", "tfoot", "thead", "tr",
    }
)
_CELL_TAGS = frozenset({"td", "th"})

_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.I)
_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>")
_SPACE_RE = re.compile(r"\s+")
_LINE_SPACE_RE = re.compile(r"[ \t\f\v\u00a0\u2000-\u200b\u3000]+")
_BLANK_LINES_RE = re.compile(r"\n{3,}")

# HTML carries markup around its text, so allow more bytes per wanted character.
_BYTES_PER_CHAR = 8


def extract_html(path: Path, kind: str, max_chars: int) -> Extraction:
    data, cut = read_limited(path, max_chars * _BYTES_PER_CHAR + 4096)
    if not data.strip():
        raise EmptyFile("the file is empty")
    source = _XML_DECL_RE.sub("", normalize_newlines(_decode_html(data, cut)), count=1)
    title, text = html_to_text(source)
    if not text.strip():
        raise EmptyFile("the page has no visible text")
    return Extraction(pages=(Page(1, text),), kind=kind, title=title, truncated=cut)


def _decode_html(data: bytes, cut: bool) -> str:
    """A BOM wins, then a <meta charset>, then the plain-text detection."""
    if bom_encoding(data) is None:
        match = _META_CHARSET_RE.search(data[:4096])
        if match:
            name = match.group(1).decode("ascii", "replace")
            try:
                codecs.lookup(name)
            except LookupError:
                pass
            else:
                decoder = codecs.getincrementaldecoder(name)(errors="replace")
                return decoder.decode(data, final=not cut)
    return decode_bytes(data, cut)


def html_to_text(source: str) -> tuple[str | None, str]:
    """(title, visible text) of an HTML document given as a string."""
    parser = lxml_html.HTMLParser(
        no_network=True, remove_comments=True, remove_pis=True, huge_tree=False
    )
    root = etree.fromstring(source, parser)
    if root is None:
        return None, ""
    title_el = root.find(".//title")
    title = None
    if title_el is not None:
        title = _SPACE_RE.sub(" ", title_el.text_content()).strip() or None
    return title, _visible_text(root)


def _visible_text(root: etree._Element) -> str:
    """Walk the tree without recursion (deep nesting must not blow the stack).

    Block boundaries are collected as pending line breaks: adjacent boundaries merge (a
    paragraph end wins over a line end), while each <br> adds one.
    """
    out: list[str] = []
    pending = 0
    pre_depth = 0

    def add(text: str | None) -> None:
        nonlocal pending
        if not text:
            return
        if not pre_depth:
            text = _SPACE_RE.sub(" ", text)
        if pending:
            if not text.strip():
                return  # markup indentation between blocks
            if out:
                out.append("\n" * pending)
            pending = 0
        out.append(text)

    def boundary(tag: str) -> None:
        nonlocal pending
        if tag in _PARAGRAPH_TAGS:
            pending = max(pending, 2)
        elif tag in _LINE_TAGS:
            pending = max(pending, 1)

    walker = etree.iterwalk(root, events=("start", "end"))
    for event, el in walker:
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if event == "start":
            if tag in _SKIP_TAGS or not tag:
                walker.skip_subtree()
                continue
            if tag == "br":
                pending += 1
            elif tag in _CELL_TAGS:
                add("\t")
            boundary(tag)
            if tag == "pre":
                pre_depth += 1
            add(el.text)
        else:
            if tag == "pre":
                pre_depth -= 1
            boundary(tag)
            if el is not root:
                add(el.tail)
    lines = (_LINE_SPACE_RE.sub(" ", line).strip() for line in "".join(out).split("\n"))
    return _BLANK_LINES_RE.sub("\n\n", "\n".join(lines)).strip()
