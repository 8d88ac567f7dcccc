"""Hybrid search: FTS5 BM25 + sqlite-vec KNN, fused, grouped by document, optionally reranked."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..lazy_module import lazy
from ..models.protocols import Reranker
from ..store import Connection, SQLError
from ..store.chunks import StoredChunk, chunks_passing, fetch_chunks
from ..store.counts import library_counts
from ..store.duplicates import content_hashes, paths_by_hash
from ..store.fts import ideal_score, name_matches, split_or
from ..store.members import member_details
from ..store.ocr import ocr_chunk_ids
from ..store.term_presence import chunks_holding
from ..store.vectors import VectorSpace, knn, unit_vectors
from ..types import ChunkHit, Hit, SearchFilters
from .arrange import RELATED_FLOOR, Evidence, Tier, shown
from .fusion import LEXICAL_WEIGHT, FusedDocument, fuse_documents
from .junk import content_weight
from .query import ParsedQuery, parse_query
from .snippets import TermMatcher, make_snippet
from .word_parts import alternatives, lexical_search

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy("numpy")  # imported on first use: a bm25 search or a status never needs it

MODES = ("bm25", "dense", "hybrid")
CHUNKS_PER_HIT = 3
RERANK_TOP = 30
RERANK_WINDOW_CHARS = 400
# Vector feedback: the best chunks of this many top fused documents, added to the query vector
# at this weight (their mean has the query's own weight).
FEEDBACK_DOCS, FEEDBACK_WEIGHT = 3, 1.0
NAME_MATCHES = 20  # files whose name or title holds every query word, at most
FUSION_FLOOR = 0.3
CANDIDATES = 300  # chunks each retriever contributes, whatever the number of results asked for


@dataclass(frozen=True)
class RankedChunk:
    chunk_id: int
    score: float
    lexical_rank: int | None
    semantic_rank: int | None


def candidate_depth(k: int = 10) -> int:
    """Chunks each side contributes: the same for every ``k`` (over-fetched, so fusion sees
    enough of both lists), so the first ten results of ``k=10`` and ``k=100`` are the same."""
    return CANDIDATES


class Searcher:
    """Runs one query against one connection. Built per call by the Library; holds no state."""

    def __init__(
        self,
        conn: Connection,
        space: VectorSpace | None,
        embed_query: Callable[[str], np.ndarray] | None,
    ) -> None:
        self.conn = conn
        self.space = space
        self.embed_query = embed_query

    # -- the two retrievers ---------------------------------------------------------------
    def lexical(self, query: ParsedQuery, depth: int, filters: SearchFilters | None) -> list[tuple[int, float]]:
        """BM25 over the chunks for the query's words, and for the library words that hold a
        query word as a part (a compound's part, a CJK word in a run; see ``word_parts``)."""
        try:
            return lexical_search(self.conn, query, depth, filters)
        except SQLError:
            return []  # a term FTS5 still refuses: no lexical results rather than an error

    def named(self, query: ParsedQuery, filters: SearchFilters | None) -> list[int]:
        """First chunks of the files whose name or title holds every query word, best first."""
        if query.match_all is None:
            return []
        try:
            return [chunk for _, chunk in name_matches(self.conn, query.match_all, NAME_MATCHES, filters)]
        except SQLError:
            return []

    def lexical_ideal(self, query: ParsedQuery) -> float:
        """What a chunk matching the whole query would score in BM25 (0 when unknown)."""
        try:
            return ideal_score(self.conn, query.match_any) if query.match_any else 0.0
        except SQLError:
            return 0.0

    def semantic(self, query: str, depth: int, filters: SearchFilters | None) -> list[tuple[int, float]]:
        if self.space is None or self.embed_query is None or not query.strip():
            return []
        vector = self.embed_query(query)
        if filters is None or not filters.active:
            return [(cid, 1.0 - dist) for cid, dist in knn(self.conn, self.space, vector, depth)]
        # Brute-force KNN cannot filter by folder prefix itself: over-fetch, then keep matches.
        found = knn(self.conn, self.space, vector, depth * 5)
        allowed = self._allowed([cid for cid, _ in found], filters)
        return [(cid, 1.0 - dist) for cid, dist in found if cid in allowed][:depth]

    def _with_feedback(self, query: str, top: Sequence[FusedDocument], lex: list[tuple[int, float]],
                       sem: list[tuple[int, float]]) -> list[tuple[int, float]]:
        """Rocchio feedback on the vectors: the candidates of both sides scored by cosine with
        the query vector plus the mean vector of the best chunks of the top fused documents.

        A short query names a topic in few words; the documents that both retrievers put first
        describe it in many, in the collection's own vocabulary, and moving the query towards
        them ranks the other documents about that topic higher. Scoring the candidates both
        sides already found (rather than a second nearest-neighbour search) keeps the cost to
        one read of a few hundred vectors."""
        assert self.space is not None and self.embed_query is not None
        pool = list(dict.fromkeys([c for c, _ in sem] + [c for c, _ in lex]))
        best = [doc.chunks[0][0] for doc in top]
        vectors = self._vectors(pool + best)
        feedback = [vectors[c] for c in best if c in vectors]
        if not feedback:
            return sem
        moved = self.embed_query(query) + FEEDBACK_WEIGHT * np.mean(feedback, axis=0)
        moved /= max(float(np.linalg.norm(moved)), 1e-12)
        scored = [(c, float(vectors[c] @ moved)) for c in pool if c in vectors]
        return sorted(scored, key=lambda cs: -cs[1])

    def _vectors(self, chunk_ids: list[int]) -> dict[int, np.ndarray]:
        """Unit vectors of ``chunk_ids`` that have one (see ``store.vectors.unit_vectors``)."""
        assert self.space is not None
        return unit_vectors(self.conn, self.space, chunk_ids)

    def _allowed(self, chunk_ids: list[int], filters: SearchFilters) -> set[int]:
        return chunks_passing(self.conn, chunk_ids, filters)

    # -- ranking --------------------------------------------------------------------------
    def search(self, query: str | ParsedQuery, k: int = 10, filters: SearchFilters | None = None,
               mode: str = "hybrid", prefix_last: bool = False,
               lexical_weight: float = LEXICAL_WEIGHT, fusion: str = "convex",
               semantic_floor: float = RELATED_FLOOR, feedback_docs: int = FEEDBACK_DOCS) -> list[Hit]:
        """Documents best matching ``query``, copies of one file shown once. In hybrid mode,
        those holding every query word come first, then those holding some, then those found
        by meaning alone (``Hit.related``, only when their cosine reaches ``semantic_floor``);
        documents with too little going for them are left out (``search.arrange``), so a query
        nothing fits finds nothing. The semantic side is scored again with the query vector
        moved towards the first ``feedback_docs`` fused results (see ``_with_feedback``).
        Every candidate list has the same depth whatever ``k`` is, so the first results are
        the same for every ``k``. ``query`` may be read already (:func:`parse_query`)."""
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")
        parsed = query if isinstance(query, ParsedQuery) else parse_query(query, prefix_last)
        depth = candidate_depth(k)
        lex = self.lexical(parsed, depth, filters) if mode != "dense" else []
        named = self.named(parsed, filters) if mode != "dense" else []
        sem = self.semantic(parsed.text, depth, filters) if mode != "bm25" else []
        stored = fetch_chunks(self.conn, list(dict.fromkeys([c for c, _ in lex] + named + [c for c, _ in sem])))
        weights = {cid: _content_weight(chunk) for cid, chunk in stored.items()}
        sem = _weighed(sem, weights)
        meaning = dict(sem)  # content-weighted cosines with the query as typed
        if mode == "hybrid":
            sem = [(c, s) for c, s in sem if s >= FUSION_FLOOR]
        ideal = self.lexical_ideal(parsed) if named or (lex and sem) else 0.0
        if named:  # a name counts as a full lexical match
            full = max([score for _, score in lex[:1]] + [ideal]) or 1.0
            lex = _first(named, full, lex)
        weight = {"bm25": 1.0, "dense": 0.0}.get(mode, lexical_weight)
        owner = {cid: chunk.document_id for cid, chunk in stored.items()}
        ideal = ideal if lex and sem else 0.0
        if mode == "hybrid" and feedback_docs > 0 and lex and sem:
            fused = fuse_documents(lex, sem, owner, weight, fusion, ideal)
            sem = _weighed(self._with_feedback(parsed.text, fused[:feedback_docs], lex, sem), weights)
        if mode == "hybrid" and named:  # ... and as a full match by meaning: people name files for what they hold
            sem = _first(named, sem[0][1] if sem else 1.0, sem)  # the best score: normalising stays as it was
        ranking = fuse_documents(lex, sem, owner, weight, fusion, ideal)
        related: set[int] = set()
        if mode == "hybrid":
            evidence = self._evidence(parsed, ranking, lex, named, meaning, owner)
            kept = shown(list(evidence.values()), semantic_floor)
            related = {e.document for e in kept if e.tier is Tier.RELATED}
            by_key = {doc.key: doc for doc in ranking}
            ranking = [by_key[e.document] for e in kept]
        path_of = {chunk.document_id: chunk.path for chunk in stored.values()}
        ranking, also_at = self._collapse_copies(ranking, k, path_of)
        lex_rank = {cid: i for i, (cid, _) in enumerate(lex, start=1)}
        sem_rank = {cid: i for i, (cid, _) in enumerate(sem, start=1)}
        terms = TermMatcher(parsed.terms)
        read_by_ocr = ocr_chunk_ids(self.conn, [cid for doc in ranking for cid, _ in doc.chunks[:CHUNKS_PER_HIT]])
        details = member_details(self.conn, [doc.key for doc in ranking])  # a message's sender, its mailbox
        hits = []
        for doc in ranking:
            chunks = [(cid, score) for cid, score in doc.chunks[:CHUNKS_PER_HIT] if cid in stored]
            first = stored[chunks[0][0]]
            fields, container = details.get(doc.key, ((), None))
            chunk_hits = tuple(
                _chunk_hit(stored[cid], RankedChunk(cid, score, lex_rank.get(cid), sem_rank.get(cid)), terms,
                           ocr=cid in read_by_ocr)
                for cid, score in chunks)
            hits.append(Hit(document_id=first.document_id, path=first.path, title=first.title,
                            kind=first.kind, mtime=first.mtime, score=doc.score, chunks=chunk_hits,
                            related=doc.key in related, also_at=also_at.get(doc.key, ()),
                            fields=fields, container=container))
        return hits

    def _evidence(self, parsed: ParsedQuery, ranking: Sequence[FusedDocument[int, int]],
                  lex: list[tuple[int, float]], named: list[int], meaning: dict[int, float],
                  owner: dict[int, int]) -> dict[int, Evidence]:
        """What each fused document has going for it: which query words its candidate chunks
        hold (weighted by IDF, as BM25 weighs them), and its best meaning score."""
        candidates = [cid for doc in ranking for cid, _ in doc.chunks]
        holding, idf = self._words_held(parsed, candidates)
        named_docs = {owner[c] for c in named if c in owner}
        lexical_docs = {owner[c] for c, _ in lex if c in owner}
        total = sum(idf)
        evidence = {}
        for doc in ranking:
            held = set().union(*(holding.get(cid, set()) for cid, _ in doc.chunks))
            every = bool(idf) and len(held) == len(idf)
            evidence[doc.key] = Evidence(
                document=doc.key, score=doc.score,
                coverage=1.0 if doc.key in named_docs else sum(idf[i] for i in held) / total if total else 0.0,
                all_words=every or doc.key in named_docs,
                some_words=bool(held) or doc.key in lexical_docs, words=len(held),
                meaning=max((meaning.get(cid, 0.0) for cid, _ in doc.chunks), default=0.0))
        return evidence

    def _words_held(self, parsed: ParsedQuery, candidates: list[int]) -> tuple[dict[int, set[int]], list[float]]:
        """chunk → the indexes of the query words it holds (a word, or a library word holding
        it as a part), and each word's IDF."""
        phrases = split_or(parsed.match_any) if parsed.match_any else []
        if not phrases or not candidates:
            return {}, []
        try:
            parts = alternatives(self.conn, parsed)
            total = max(1, library_counts(self.conn).chunks)
            holding: dict[int, set[int]] = {}
            idf = []
            for i, (term, phrase) in enumerate(zip(parsed.terms, phrases, strict=False)):
                expression = " OR ".join([phrase, *(f'"{w}"' for w in parts.get(term, []))])
                found, count = chunks_holding(self.conn, expression, candidates)
                idf.append(max(1e-6, math.log((total - count + 0.5) / (count + 0.5))))
                for cid in found:
                    holding.setdefault(cid, set()).add(i)
        except SQLError:
            return {}, []
        return holding, idf

    def _collapse_copies(self, ranking: Sequence[FusedDocument[int, int]], k: int, path_of: dict[int, str]
                         ) -> tuple[list[FusedDocument[int, int]], dict[int, tuple[str, ...]]]:
        """The first ``k`` documents, each file's copies (same content hash) folded into the
        best-placed one; and, for each kept document, the paths of its copies."""
        hashes = content_hashes(self.conn, [doc.key for doc in ranking])
        kept: list[FusedDocument[int, int]] = []
        seen: set[str] = set()
        for doc in ranking:
            digest = hashes.get(doc.key)
            if digest is not None and digest in seen:
                continue
            if digest is not None:
                seen.add(digest)
            kept.append(doc)
            if len(kept) == k:
                break
        paths = paths_by_hash(self.conn, [hashes[d.key] for d in kept if d.key in hashes])
        also = {}
        for doc in kept:
            others = tuple(p for p in paths.get(hashes.get(doc.key, ""), []) if p != path_of.get(doc.key))
            if others:
                also[doc.key] = others
        return kept, also


def _first(chunks: list[int], score: float, scored: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """``chunks`` at ``score`` ahead of the rest of ``scored``."""
    taken = set(chunks)
    return [(c, score) for c in chunks] + [(c, s) for c, s in scored if c not in taken]


_WEIGHTS: dict[tuple[int, int], float] = {}  # (chunk id, hash of its text) → content weight
_WEIGHTS_HELD = 200_000


def _content_weight(chunk: StoredChunk) -> float:
    """The chunk's content weight (``search.junk``), remembered: a chunk's text never changes
    under its id, and the text's hash guards against an id taken again by a new chunk."""
    key = (chunk.id, hash(chunk.text))
    weight = _WEIGHTS.get(key)
    if weight is None:
        if len(_WEIGHTS) >= _WEIGHTS_HELD:
            _WEIGHTS.clear()
        weight = _WEIGHTS[key] = content_weight(chunk.text)
    return weight


def _weighed(scored: list[tuple[int, float]], weights: dict[int, float]) -> list[tuple[int, float]]:
    """Meaning scores times each chunk's content weight (``search.junk``), best first; chunks
    without a weight (deleted while the query ran) are left out."""
    return sorted(((cid, score * weights[cid]) for cid, score in scored if cid in weights), key=lambda cs: -cs[1])


def _chunk_hit(chunk: StoredChunk, ranked: RankedChunk, terms: TermMatcher, ocr: bool = False) -> ChunkHit:
    snippet, highlights = make_snippet(chunk.text, terms)
    return ChunkHit(chunk_id=chunk.id, page=chunk.page, char_start=chunk.char_start,
                    char_end=chunk.char_end, text=chunk.text, snippet=snippet,
                    highlights=highlights, score=ranked.score,
                    lexical_rank=ranked.lexical_rank, semantic_rank=ranked.semantic_rank, ocr=ocr)


def rerank_passage(text: str, terms: TermMatcher, window_chars: int = RERANK_WINDOW_CHARS) -> str:
    """The part of a chunk the cross-encoder reads: a window of about 400 characters (80-100
    tokens) around the query's matches (or the chunk's start). MS MARCO passages, which the
    catalogue's cross-encoders are trained on, average about 60 words; the cost of a pair grows
    with its length (640 characters took 1.4x as long on two cores)."""
    if len(text) <= window_chars:
        return text
    window, _ = make_snippet(text, terms, max_chars=window_chars)
    return window.strip("…")


def rerank_hits(query: str | ParsedQuery, hits: Sequence[Hit], reranker: Reranker,
                top: int = RERANK_TOP) -> list[Hit]:
    """Re-order the first ``top`` chunks by cross-encoder score; a document takes its best
    reranked chunk's score. Documents past the window keep their order after them, and related
    ones (found by meaning alone) stay after the rest. ``query``
    may be the search's own :class:`ParsedQuery`, so the text is not read again."""
    pairs: list[tuple[int, int]] = []  # (hit index, chunk index), best chunks of all hits first
    for round_ in range(CHUNKS_PER_HIT):
        for hi, hit in enumerate(hits):
            if round_ < len(hit.chunks) and len(pairs) < top:
                pairs.append((hi, round_))
    if not pairs:
        return list(hits)
    parsed = query if isinstance(query, ParsedQuery) else parse_query(query)
    terms = TermMatcher(parsed.terms)
    scores = reranker.score(parsed.text, [rerank_passage(hits[h].chunks[c].text, terms) for h, c in pairs])
    by_hit: dict[int, dict[int, float]] = {}
    for (h, c), score in zip(pairs, scores, strict=True):
        by_hit.setdefault(h, {})[c] = float(score)
    reranked: list[Hit] = []
    for h, rescored in by_hit.items():
        hit = hits[h]
        order = sorted(range(len(hit.chunks)), key=lambda c: (c not in rescored, -rescored.get(c, 0.0), c))
        chunks = tuple(replace(hit.chunks[c], score=rescored[c]) if c in rescored else hit.chunks[c]
                       for c in order)
        reranked.append(replace(hit, chunks=chunks, score=max(rescored.values()), reranked=True))
    reranked.sort(key=lambda hit: -hit.score)
    # Matches by meaning alone stay after those holding the query's words (a stable sort).
    return sorted(reranked + [hit for i, hit in enumerate(hits) if i not in by_hit], key=lambda hit: hit.related)
