"""Known-item evaluation on a real folder: does the window's first page show the file a person
is looking for, and nothing when nothing fits?

The queries come from a TSV file (query, kind, expected files relative to the folder, ``|``
separated). The folder is indexed into a library and every query is run through
:meth:`Library.find` with k=10, exactly what the window shows. A result counts as the expected
file when it has the same content (SHA-256 of the bytes), so a duplicate under another name, or
one collapsed into a hit's ``also_at``, is as good as the original."""

from __future__ import annotations

import hashlib
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from .errors import MemexError

if TYPE_CHECKING:
    from .library import Library
    from .models.model_set import EmbedderChoice, RerankerChoice
    from .types import Hit

KINDS = ("known", "typo", "name", "lang", "nonsense")
SHOWN = 10  # what the window shows, and what every figure is about
DEEP = 100  # the k whose top 10 must equal k=10's (k-stability)
NEAR_EMPTY_WORDS = 20

# figure → (target, whether higher is better); the bar for a real folder
TARGETS: dict[str, tuple[float, bool]] = {
    "success@1": (0.80, True),
    "success@5": (0.95, True),
    "mrr@10": (0.0, True),
    "typo_success@5": (0.80, True),
    "language_success@5": (0.80, True),
    "nonsense_results": (0.0, False),
    "near_empty_in_top5": (0.02, False),
    "k_stability": (1.0, True),
    "duplicate_results": (0.0, False),  # not among the figures; duplicates must collapse
}


class QueryFileError(MemexError):
    """A line of the queries file that cannot be used; the message names the line."""


@dataclass(frozen=True)
class KnownItemQuery:
    line: int
    text: str
    kind: str
    expected: tuple[str, ...]  # paths relative to the folder, "/"-separated


# -- the queries file -------------------------------------------------------------------------
def read_queries(path: Path) -> list[KnownItemQuery]:
    """Queries from ``path``: tab-separated ``query, kind, expected`` lines. Blank lines, lines
    starting with ``#`` and a header line (``query<TAB>kind…``) are skipped; any other line that
    cannot be used raises QueryFileError naming the file and line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QueryFileError(f"Cannot read the queries file {path}: {exc}") from exc
    queries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        cells = raw.split("\t")
        if number == 1 and [c.strip().lower() for c in cells[:2]] == ["query", "kind"]:
            continue
        queries.append(_parse_line(cells, f"{path}:{number}", number))
    if not queries:
        raise QueryFileError(f"{path}: no queries (one per line: query, kind, expected files).")
    return queries


def _parse_line(cells: list[str], where: str, number: int) -> KnownItemQuery:
    if len(cells) not in (2, 3):
        raise QueryFileError(f"{where}: expected 3 tab-separated columns (query, kind, expected "
                             f"files), found {len(cells)}.")
    query, kind = cells[0].strip(), cells[1].strip().lower()
    expected = tuple(p.strip() for p in (cells[2] if len(cells) == 3 else "").split("|") if p.strip())
    if not query:
        raise QueryFileError(f"{where}: the query is empty.")
    if kind not in KINDS:
        raise QueryFileError(f"{where}: unknown kind {kind!r}; use one of {', '.join(KINDS)}.")
    if kind == "nonsense" and expected:
        raise QueryFileError(f"{where}: a nonsense query expects no files, but lists {len(expected)}.")
    if kind != "nonsense" and not expected:
        raise QueryFileError(f"{where}: a {kind} query needs at least one expected file.")
    for item in expected:
        pure = PurePosixPath(item.replace("\\", "/"))
        if pure.is_absolute() or ".." in pure.parts or item.startswith("~"):
            raise QueryFileError(f"{where}: expected files are relative to the folder, not {item!r}.")
    return KnownItemQuery(number, query, kind, tuple(str(PurePosixPath(e)) for e in expected))


# -- metrics (pure) ---------------------------------------------------------------------------
def first_rank(ranked: Sequence[bool]) -> int | None:
    """1-based rank of the first right result, or None."""
    return next((i + 1 for i, right in enumerate(ranked) if right), None)


def success_at(rank: int | None, k: int) -> float:
    return 1.0 if rank is not None and rank <= k else 0.0


def reciprocal_rank(rank: int | None, k: int = SHOWN) -> float:
    return 1.0 / rank if rank is not None and rank <= k else 0.0


def mean(values: Iterable[float]) -> float | None:
    """The mean, or None for no values (a figure with nothing to measure is not 0)."""
    items = list(values)
    return sum(items) / len(items) if items else None


def repeated_contents(digests: Sequence[str | None]) -> int:
    """How many results repeat the content of a result above them (None: unreadable, never equal)."""
    seen: set[str] = set()
    repeats = 0
    for digest in digests:
        if digest is not None and digest in seen:
            repeats += 1
        elif digest is not None:
            seen.add(digest)
    return repeats


_LETTER_WORD = re.compile(r"[^\W\d_]{2,}")
_IDEOGRAPH = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def letter_words(text: str) -> float:
    """Words made of letters: runs of two or more letters outside CJK, and one word per two
    CJK characters (those scripts write no spaces; two characters is a typical word)."""
    ideographs = len(_IDEOGRAPH.findall(text))
    latin = _LETTER_WORD.findall(_IDEOGRAPH.sub(" ", text))
    return len(latin) + ideographs / 2


def is_near_empty(text: str) -> bool:
    """A document is near-empty when its whole text holds fewer than NEAR_EMPTY_WORDS words of
    letters: empty files, "Test", "foo 1", a page of numbers or dot leaders, "a b c d e"."""
    return letter_words(text) < NEAR_EMPTY_WORDS


# -- one run ----------------------------------------------------------------------------------
@dataclass
class QueryOutcome:
    query: str
    kind: str
    line: int
    expected: tuple[str, ...]
    rank: int | None  # of the first expected file among the shown results
    shown: list[str]  # relative paths, best first (k=10)
    right: list[bool]  # per shown result: the expected file or one with the same content
    near_empty: list[bool]  # per shown result
    related: list[bool]  # per shown result: found by meaning alone
    stable: bool  # k=10's list equals the first 10 of k=100's
    showing_results_for: str | None
    milliseconds: float
    deep_shown: list[str] = field(default_factory=list)  # k=100's first 10, when not stable
    duplicates: int = 0  # shown results with the same content as one shown above them


@dataclass
class KnownItemReport:
    folder: str
    queries: list[QueryOutcome]
    skipped: list[str]  # queries whose expected files are all missing from the folder
    documents: int
    index_seconds: float

    def figures(self) -> dict[str, float | None]:
        return figures(self.queries)

    def as_dict(self, per_query: bool = True) -> dict:
        data: dict = {"folder": self.folder, "documents": self.documents,
                      "queries": len(self.queries), "skipped": self.skipped,
                      "index_seconds": round(self.index_seconds, 1),
                      "figures": self.figures(),
                      "targets": {k: v for k, (v, _) in TARGETS.items() if k != "mrr@10"}}
        if per_query:
            data["per_query"] = [asdict(q) for q in self.queries]
        return data


def figures(outcomes: Sequence[QueryOutcome]) -> dict[str, float | None]:
    """Every figure the evaluation reports, from the per-query outcomes."""
    answerable = [q for q in outcomes if q.kind != "nonsense"]
    top5 = [(empty, wanted) for q in outcomes
            for wanted, empty in zip(q.right[:5], q.near_empty[:5], strict=True)]
    times = [q.milliseconds for q in outcomes]
    return {
        "success@1": mean(success_at(q.rank, 1) for q in answerable),
        "success@5": mean(success_at(q.rank, 5) for q in answerable),
        "mrr@10": mean(reciprocal_rank(q.rank) for q in answerable),
        "typo_success@5": mean(success_at(q.rank, 5) for q in answerable if q.kind == "typo"),
        "language_success@5": mean(success_at(q.rank, 5) for q in answerable if q.kind == "lang"),
        "known_success@5": mean(success_at(q.rank, 5) for q in answerable if q.kind == "known"),
        "name_success@5": mean(success_at(q.rank, 5) for q in answerable if q.kind == "name"),
        "nonsense_results": float(sum(len(q.shown) for q in outcomes if q.kind == "nonsense")),
        # near-empty results that are not themselves the answer, among all top-5 results
        "near_empty_in_top5": mean(1.0 if empty and not wanted else 0.0 for empty, wanted in top5),
        "k_stability": mean(1.0 if q.stable else 0.0 for q in outcomes),
        "duplicate_results": float(sum(q.duplicates for q in outcomes)),
        "query_ms_p50": statistics.median(times) if times else None,
    }


class _Folder:
    """The evaluated folder: relative paths and content hashes of its files."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._hashes: dict[str, str] = {}

    def relative(self, path: str) -> str:
        try:
            return Path(path).resolve().relative_to(self.root).as_posix()
        except ValueError:
            return path

    def digest(self, relative: str) -> str | None:
        if relative not in self._hashes:
            try:
                self._hashes[relative] = hashlib.sha256((self.root / relative).read_bytes()).hexdigest()
            except OSError:
                return None
        return self._hashes[relative]


class _NearEmpty:
    """Whether a shown document is near-empty, judged on the text the library holds for it."""

    def __init__(self, lib: Library) -> None:
        self.lib = lib
        self._seen: dict[int, bool] = {}

    def __call__(self, hit: Hit) -> bool:
        if hit.document_id not in self._seen:
            document = self.lib.document(hit.path)
            pages = document.pages if document is not None else 0
            text = " ".join(self.lib.page_text(hit.document_id, page) for page in range(pages + 1))
            self._seen[hit.document_id] = is_near_empty(text)
        return self._seen[hit.document_id]


def run_query(lib: Library, query: KnownItemQuery, folder: _Folder, near_empty: _NearEmpty,
              mode: str = "hybrid") -> QueryOutcome:
    wanted = {h for h in (folder.digest(e) for e in query.expected) if h is not None}
    started = time.perf_counter()
    results = lib.find(query.text, k=SHOWN, mode=mode)
    elapsed = (time.perf_counter() - started) * 1000
    deep = lib.find(query.text, k=DEEP, mode=mode)
    shown = [folder.relative(h.path) for h in results.hits]
    # the expected file, or one with the same content (also when collapsed into a hit's also_at)
    right = [any(folder.digest(folder.relative(p)) in wanted for p in (h.path, *h.also_at))
             for h in results.hits]
    deep_top = [folder.relative(h.path) for h in deep.hits[:SHOWN]]
    stable = [h.path for h in results.hits] == [h.path for h in deep.hits[:SHOWN]]
    return QueryOutcome(
        query=query.text, kind=query.kind, line=query.line, expected=query.expected,
        rank=first_rank(right), shown=shown, right=right, near_empty=[near_empty(h) for h in results.hits],
        related=[h.related for h in results.hits], stable=stable,
        showing_results_for=results.showing_results_for, milliseconds=elapsed,
        deep_shown=[] if stable else deep_top,
        duplicates=repeated_contents([folder.digest(path) for path in shown]))


def evaluate_known_items(
    queries_path: Path, folder: Path, *, library_path: Path | None = None,
    embedder: EmbedderChoice = None, reranker: RerankerChoice = None, mode: str = "hybrid",
    progress: Callable[[str], None] | None = None,
) -> KnownItemReport:
    """Index ``folder`` (into ``library_path``, or a temporary library) and run every query."""
    from .library import Library

    queries = read_queries(queries_path)
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise MemexError(f"{root} is not a folder.")
    place = _Folder(root)
    usable = [q for q in queries if any(place.digest(e) is not None for e in q.expected)
              or q.kind == "nonsense"]
    skipped = [f"line {q.line}: {q.text}" for q in queries if q not in usable]
    with tempfile.TemporaryDirectory(prefix="memex-known-items-") as tmp:
        lib_path = Path(library_path) if library_path else Path(tmp) / "known-items.db"
        with Library.open(lib_path, embedder=embedder, reranker=reranker) as lib:
            if progress:
                progress(f"indexing {root} into {lib_path} …")
            started = time.perf_counter()
            lib.index([root])
            index_seconds = time.perf_counter() - started
            documents = lib.status().documents
            near_empty = _NearEmpty(lib)
            outcomes = []
            for number, query in enumerate(usable, start=1):
                if progress and number % 10 == 0:
                    progress(f"query {number}/{len(usable)}")
                outcomes.append(run_query(lib, query, place, near_empty, mode))
    return KnownItemReport(str(root), outcomes, skipped, documents, index_seconds)
