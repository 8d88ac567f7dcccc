"""Which extractor handles a file: by extension, by well-known name, or by sniffing."""

from __future__ import annotations

import codecs
import os
import re
import stat
from pathlib import Path

_KIND_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "pdf": ("pdf",),
    "epub": ("epub",),
    "xps": ("xps", "oxps"),
    "fb2": ("fb2",),
    "mobi": ("mobi",),
    "cbz": ("cbz",),
    "text": (
        "txt", "text", "log", "rst", "adoc", "asciidoc", "org", "tex", "ltx", "bib", "srt",
        "vtt", "ini", "cfg", "conf", "toml", "properties", "nfo", "diff", "patch",
    ),
    "markdown": ("md", "markdown", "mdown", "mkd", "mkdn", "mdx"),
    "code": (
        "py", "pyi", "pyw", "js", "mjs", "cjs", "jsx", "ts", "tsx", "c", "h", "cc", "cpp", "cxx",
        "hpp", "hh", "hxx", "cs", "java", "kt", "kts", "scala", "go", "rs", "rb", "php", "pl",
        "pm", "swift", "m", "mm", "r", "jl", "lua", "sh", "bash", "zsh", "fish", "ps1", "psm1",
        "bat", "cmd", "sql", "css", "scss", "sass", "less", "vue", "svelte", "dart", "ex", "exs",
        "erl", "hrl", "hs", "ml", "mli", "fs", "fsx", "clj", "cljs", "el", "lisp", "scm", "vim",
        "groovy", "gradle", "cmake", "mk", "proto", "graphql", "gql", "tf", "hcl", "nix", "zig",
        "nim", "asm", "f90", "pas", "elm", "coffee",
    ),
    "html": ("html", "htm", "xhtml", "xht", "shtml"),
    "csv": ("csv", "tsv"),
    "json": ("json", "jsonl", "ndjson", "geojson"),
    "xml": ("xml", "xsd", "xsl", "xslt", "rss", "atom", "opml"),
    "yaml": ("yaml", "yml"),
    "docx": ("docx",),
    "pptx": ("pptx", "pptm"),
    "xlsx": ("xlsx", "xlsm"),
    "odt": ("odt",),
    "ods": ("ods",),
    "odp": ("odp",),
    "email": ("eml",),
    "mbox": ("mbox", "mbx"),
    "image": ("png", "jpg", "jpeg", "jpe", "tif", "tiff", "webp", "bmp", "gif", "heic", "heif"),
}

EXTENSION_KINDS: dict[str, str] = {
    ext: kind for kind, exts in _KIND_EXTENSIONS.items() for ext in exts
}

SUPPORTED_KINDS: frozenset[str] = frozenset(_KIND_EXTENSIONS)

# Everyday names for a kind that are neither the kind itself nor one of its file extensions.
KIND_ALIASES: dict[str, str] = {
    "word": "docx", "excel": "xlsx", "powerpoint": "pptx", "plain": "text", "source": "code",
    "picture": "image", "photo": "image", "mail": "email", "message": "email",
}


def kind_named(text: str) -> str | None:
    """The kind ``text`` names: a kind (``pdf``), a file extension (``htm``, ``.md``) or an
    everyday name (``word``), in any case; None for anything else."""
    key = text.strip().lower().removeprefix(".")
    return key if key in SUPPORTED_KINDS else EXTENSION_KINDS.get(key) or KIND_ALIASES.get(key)

# Kinds read by text.py / html.py (decoded bytes) as opposed to container formats.
TEXT_KINDS: frozenset[str] = frozenset({"text", "markdown", "code", "csv", "json", "xml", "yaml"})
PYMUPDF_KINDS: frozenset[str] = frozenset({"pdf", "epub", "xps", "fb2", "mobi", "cbz"})
OFFICE_KINDS: frozenset[str] = frozenset({"docx", "pptx", "xlsx", "odt", "ods", "odp"})
MAIL_KINDS: frozenset[str] = frozenset({"email", "mbox"})

# Extension-less files that are text by convention (compared case-insensitively).
_TEXT_NAMES: frozenset[str] = frozenset(
    {
        "readme", "license", "licence", "copying", "authors", "contributors", "notice",
        "changelog", "changes", "history", "news", "todo", "install", "makefile",
        "gnumakefile", "dockerfile", "containerfile", "vagrantfile", "gemfile", "rakefile",
        "procfile", "jenkinsfile", "brewfile", "justfile",
    }
)

_SNIFF_BYTES = 4096
# A header field ("Received: ...", "From: ...") and an mbox "From sender date" line.
_HEADER_LINE_RE = re.compile(rb"[!-9;-~]+:[ \t]?")
_FROM_LINE_RE = re.compile(rb"From \S+ .*\d{1,2}:\d\d")
_MAIL_FIELD_RE = re.compile(rb"^(from|date|received|message-id|return-path|delivered-to):", re.I | re.M)


def detect_kind(path: Path) -> str | None:
    """The extractor kind for ``path``, or None when Memex does not read this type."""
    path = Path(path)
    suffix = path.suffix
    if _is_maildir_message(path):  # before extensions: Maildir names end in host names (".org")
        return "email"
    if suffix and suffix[1:].lower() in EXTENSION_KINDS:
        return EXTENSION_KINDS[suffix[1:].lower()]
    if suffix and not _may_be_text_name(path.name, suffix[1:]):
        return None
    head = _read_head(path)  # read once for both sniffs
    if head is not None and _is_mbox(path, head):
        return "mbox"  # before text names: Thunderbird folders are called "News", "Todo", ...
    if not suffix and path.name.lower() in _TEXT_NAMES:
        return "text"
    return "text" if head is not None and _looks_like_utf8_text(head) else None


def _may_be_text_name(name: str, suffix: str) -> bool:
    """Worth sniffing although the extension is unknown: a conventional text name with a
    qualifier (``README.Debian``, ``COPYING.LIB``, ``Makefile.am``), or a qualifier that is a
    word rather than a file type (``notes.draft``, ``config.sample``)."""
    if name.split(".", 1)[0].lower() in _TEXT_NAMES:
        return True
    return suffix.isalpha() and (len(suffix) >= 5 or suffix[0].isupper())


def is_supported(path: Path) -> bool:
    return detect_kind(path) is not None


def _is_maildir_message(path: Path) -> bool:
    """A file in a Maildir's ``cur/`` or ``new/`` (beside a ``tmp/``) that starts with headers."""
    if path.parent.name not in ("cur", "new") or not os.path.isdir(path.parent.parent / "tmp"):
        return False
    head = _read_head(path)
    return head is not None and _looks_like_headers(head)


def _looks_like_headers(head: bytes) -> bool:
    """Starts with header fields, one of them a field every message has."""
    block = head.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    return _HEADER_LINE_RE.match(block) is not None and _MAIL_FIELD_RE.search(block) is not None


def _is_mbox(path: Path, head: bytes) -> bool:
    """An mbox without a mail extension (``head``: its first bytes): Thunderbird's ``Inbox``
    beside ``Inbox.msf``, or a file (``/var/mail/ann``, ``~/mbox``) starting with a "From "
    line followed by headers."""
    if not head.startswith(b"From "):
        return False
    first, _, rest = head.partition(b"\n")
    return bool(_FROM_LINE_RE.match(first) and _looks_like_headers(rest)) or os.path.exists(f"{path}.msf")


def _read_head(path: Path) -> bytes | None:
    """The first 4 KB of a regular file; None for anything else or when it cannot be read."""
    try:
        # Non-blocking and regular files only: a FIFO must never stall the scanner or watcher.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            return os.read(fd, _SNIFF_BYTES)
        finally:
            os.close(fd)
    except OSError:
        return None


def _looks_like_utf8_text(head: bytes) -> bool:
    """A file's first 4 KB has no NUL byte and decodes as UTF-8 (a cut multi-byte tail is
    allowed)."""
    if b"\x00" in head:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True
