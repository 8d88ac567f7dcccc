"""Plain, frozen value types shared by every part of the core (and the window)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Page:
    """Text of one page (1-based ``number``); non-paged formats have a single page 1."""

    number: int
    text: str


@dataclass(frozen=True)
class OcrWord:
    """One word read from a page image, with its box in the page's own units: PDF points
    for a PDF page, pixels for an image file (the units the preview renders from)."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class OcrPage:
    """The text read from one scanned page or picture (page ``number``, 1-based), its words
    with their boxes, and the page size in the same units as the boxes."""

    number: int
    text: str
    words: tuple[OcrWord, ...]
    width: float
    height: float
    engine: str  # e.g. "rapidocr PP-OCRv6"


@dataclass(frozen=True)
class Extraction:
    """What an extractor returns for one file.

    ``ocr_pages``: pages with no text layer that hold a picture (scanned pages; every page of
    an image file), left for the OCR pass that runs after the words of every file are in.
    ``members``: documents inside this one (the messages of a mailbox, the attachments of a
    message), each indexed as its own document linked to this one.
    ``fields``: named values shown with a result and kept for search, e.g. ("from", ...),
    ("to", ...), ("date", ISO 8601). ``date``: the document's own date (a message's Date
    header, as a POSIX time), which the date filter uses instead of the file's mtime.
    ``resume_at``: a mailbox read in slices: the byte offset to read on from (None: all read).
    """

    pages: tuple[Page, ...]
    kind: str
    title: str | None = None
    truncated: bool = False
    ocr_pages: tuple[int, ...] = ()
    members: tuple[Member, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()
    date: float | None = None
    resume_at: int | None = None

    @property
    def char_count(self) -> int:
        return sum(len(p.text) for p in self.pages)


@dataclass(frozen=True)
class Member:
    """A document inside another: ``key`` is unique within its container and holds no "/"
    (its path is the container's path + "/" + key); ``name`` is what a person calls it (an
    attachment's file name, a message's subject)."""

    key: str
    name: str
    extraction: Extraction


@dataclass(frozen=True)
class ChunkSpan:
    """A chunk before it is stored: page and character offsets into that page's text."""

    page: int
    char_start: int
    char_end: int
    text: str
    token_count: int


@dataclass(frozen=True)
class Source:
    """A folder or file the user added; documents under it are kept in sync."""

    id: int
    path: str
    kind: str  # "folder" | "file"
    added_at: float
    documents: int = 0
    chunks: int = 0
    errors: int = 0
    last_indexed_at: float | None = None


@dataclass(frozen=True)
class Document:
    id: int
    path: str
    kind: str
    size: int
    mtime: float
    content_hash: str
    status: str  # "ok" | "error"
    error: str | None
    title: str | None
    pages: int
    chunks: int
    indexed_at: float


@dataclass(frozen=True)
class Highlight:
    """A half-open [start, end) span of a snippet that matches the query."""

    start: int
    end: int


@dataclass(frozen=True)
class ChunkHit:
    chunk_id: int
    page: int
    char_start: int
    char_end: int
    text: str
    snippet: str
    highlights: tuple[Highlight, ...]
    score: float
    lexical_rank: int | None = None
    semantic_rank: int | None = None
    ocr: bool = False  # the text was read from the page image by OCR


@dataclass(frozen=True)
class Hit:
    """One document in the results, with its best chunk first."""

    document_id: int
    path: str
    title: str | None
    kind: str
    mtime: float
    score: float
    chunks: tuple[ChunkHit, ...]
    reranked: bool = False
    # Found by meaning alone: no query word is in the document (shown under "Related").
    related: bool = False
    # Other files with the same content (same hash), shown as one result.
    also_at: tuple[str, ...] = ()
    # Named values shown with the result, e.g. a message's ("from", ...), ("to", ...), ("date", ...).
    fields: tuple[tuple[str, str], ...] = ()
    # Set for a document inside a file (a message in a mailbox, an attachment): the path of the
    # file on disk that holds it; ``path`` is then that file's path + "/" + member keys.
    container: str | None = None

    @property
    def best(self) -> ChunkHit:
        return self.chunks[0]

    @property
    def page(self) -> int:
        return self.best.page

    @property
    def snippet(self) -> str:
        return self.best.snippet


@dataclass(frozen=True)
class SearchResults:
    """What one search shows: the hits, and the query that was actually run when it differs
    from the one typed (a corrected spelling, operators taken out)."""

    query: str
    hits: tuple[Hit, ...]
    showing_results_for: str | None = None

    @property
    def exact(self) -> tuple[Hit, ...]:
        return tuple(h for h in self.hits if not h.related)

    @property
    def related(self) -> tuple[Hit, ...]:
        return tuple(h for h in self.hits if h.related)


@dataclass(frozen=True)
class SearchFilters:
    folder: str | None = None
    kinds: tuple[str, ...] = ()
    modified_after: float | None = None
    modified_before: float | None = None

    @property
    def active(self) -> bool:
        return bool(self.folder or self.kinds or self.modified_after or self.modified_before)


@dataclass(frozen=True)
class FileError:
    path: str
    reason: str
    message: str


@dataclass(frozen=True)
class IndexProgress:
    """A snapshot sent to the progress callback; the window renders it as it is."""

    phase: str  # "waiting" (for another writer) | "scanning" | "indexing" | "embedding" | "done" | "cancelled"
    files_total: int = 0
    files_done: int = 0
    chunks_written: int = 0
    chunks_embedded: int = 0
    chunks_pending: int = 0
    current: str | None = None
    errors: tuple[FileError, ...] = ()
    # Speeds and time left, measured over this run (None until there is enough to go on).
    # "Words" is reading files into the word index (searchable by words); "meaning" is
    # computing their vectors, which mostly follows once every file's words are in.
    files_per_s: float | None = None  # files read per second
    chunks_per_s: float | None = None  # chunks embedded per second of embedding
    words_left_s: float | None = None  # until every file of this run is searchable by words
    meaning_left_s: float | None = None  # until every chunk has its vector (words time included)
    # Reading scanned pages and pictures (OCR), after the words of every file are in.
    ocr_pages_total: int = 0  # pages waiting for OCR or read in this run
    ocr_pages_done: int = 0
    # Files and folders the scan passed over without reading (see ``Library.skipped_files``).
    files_skipped: int = 0


@dataclass(frozen=True)
class Changes:
    """What a write changed, so a window asks again only for that (Anki's ``OpChanges``).

    Each flag names what may now read differently; all False means nothing did, and nothing
    needs asking again. Combine with ``|``."""

    sources: bool = False  # the source list, or a source's details (added, removed, last checked)
    documents: bool = False  # documents, passages or failed files: the counts and per-source counts
    search_results: bool = False  # what a query returns: text, paths or vectors
    settings: bool = False  # the saved settings
    model: bool = False  # the embedding model the library searches with

    @property
    def any(self) -> bool:
        return self.sources or self.documents or self.search_results or self.settings or self.model

    def __or__(self, other: Changes) -> Changes:
        return Changes(*(a or b for a, b in zip(_flags(self), _flags(other), strict=True)))


def _flags(changes: Changes) -> tuple[bool, ...]:
    return (changes.sources, changes.documents, changes.search_results, changes.settings, changes.model)


NO_CHANGES = Changes()
ALL_CHANGES = Changes(sources=True, documents=True, search_results=True, settings=True, model=True)


@dataclass(frozen=True)
class IndexReport:
    """What one write did: an indexing run, a refresh, or a removal (``Library.remove``)."""

    added: int = 0
    updated: int = 0
    moved: int = 0
    removed: int = 0
    unchanged: int = 0
    failed: int = 0
    chunks: int = 0
    embedded: int = 0
    seconds: float = 0.0
    cancelled: bool = False
    errors: tuple[FileError, ...] = field(default_factory=tuple)
    sources_added: int = 0
    sources_removed: int = 0
    sources_checked: int = 0  # sources scanned completely (their "last checked" time moved)
    # Files and folders this run's scan passed over without reading them: types Memex does not
    # read, pipes and devices, unreadable folders, names it cannot hold, hidden and ignored ones.
    files_skipped: int = 0

    @property
    def changes(self) -> Changes:
        written = bool(self.added or self.updated or self.moved or self.removed or self.failed
                       or self.chunks or self.embedded)
        return Changes(sources=bool(self.sources_added or self.sources_removed or self.sources_checked),
                       documents=written, search_results=written)


@dataclass(frozen=True)
class LibraryStatus:
    path: str
    size_bytes: int
    sources: int
    documents: int
    failed: int
    chunks: int
    chunks_embedded: int
    embedder: str | None
    reranker: str | None
    schema_version: int
    # Set when most of the library is not in English and the embedder reads English only: the
    # sentence to show, naming the catalogue's multilingual embedder.
    language_hint: str | None = None

    @property
    def chunks_pending(self) -> int:
        return self.chunks - self.chunks_embedded


@dataclass(frozen=True)
class Check:
    """One line of ``memex doctor``."""

    name: str
    ok: bool
    detail: str
