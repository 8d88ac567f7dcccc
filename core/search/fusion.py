"""Fusing the lexical and the semantic ranking into one ranking of documents (pure functions).

The default is a convex combination of normalised scores, computed per document:

    score(d) = w · L(d) / max(max L, ideal L)  +  (1 − w) · S(d) / max S

where L(d) and S(d) are the best BM25 and cosine scores of any chunk of d (0 when absent). Both
scores have a natural zero (no term matched; orthogonal vectors), so dividing by the best score
keeps how *decisive* each retriever is: a document whose rare query term no other document has
stands far above the rest in BM25 and keeps that lead, where rank fusion would flatten it to
"rank 1" and let documents that are merely near the top of both lists pass it.

"ideal L" is what a chunk holding every query term once would score (the sum of the terms'
IDF). When the best lexical match only shares a common word or two with the query, dividing by
the best score alone would still give it a full-strength vote; dividing by the ideal keeps its
vote as weak as its evidence. Together these keep hybrid close to the better single retriever
when the other one fails on a query (tests/core/test_fusion_guarantee.py).

w = 0.4: max-normalised cosines are bunched near the top (on Cranfield, the 10th candidate
scores 20% below the first in cosine but 33% below in BM25), so equal weights would let BM25
decide most orderings; 0.4 gives the two sides about equal pull on the first ten.
Reciprocal rank fusion is kept for comparison.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)  # a chunk (or any ranked key)
D = TypeVar("D", bound=Hashable)  # the document a chunk belongs to

RRF_K = 60
LEXICAL_WEIGHT = 0.4


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[K]], k: int = RRF_K, weights: Sequence[float] | None = None
) -> list[tuple[K, float]]:
    """score(d) = Σ wᵢ / (k + rankᵢ(d)), rank from 1; ties keep first appearance."""
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError("one weight per ranking")
    scores: dict[K, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
    order = {key: i for i, key in enumerate(scores)}
    return sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]]))


def max_normalise(scored: Sequence[tuple[K, float]], at_least: float = 0.0) -> dict[K, float]:
    """Scores divided by the best one, or by ``at_least`` when that is larger (negative scores clip to 0)."""
    if not scored:
        return {}
    top = max(at_least, max(s for _, s in scored))
    if top <= 0:
        return {key: 0.0 for key, _ in scored}
    return {key: max(0.0, s) / top for key, s in scored}


@dataclass
class FusedDocument(Generic[K, D]):
    """A document's fused score and its chunks, best first, with their own fused scores."""

    key: D
    score: float
    lexical: float = 0.0
    semantic: float = 0.0
    chunks: list[tuple[K, float]] = field(default_factory=list)


def fuse_documents(
    lexical: Sequence[tuple[K, float]],
    semantic: Sequence[tuple[K, float]],
    owner: Mapping[K, D],
    lexical_weight: float = LEXICAL_WEIGHT,
    method: str = "convex",
    lexical_ideal: float = 0.0,
) -> list[FusedDocument[K, D]]:
    """Chunk results of both retrievers → documents, best first.

    ``owner`` maps a chunk to its document; chunks without an owner (deleted meanwhile) are
    dropped. ``method`` is "convex" (see the module docstring) or "rrf" (document ranks).
    ``lexical_ideal`` is the BM25 score a full match of the query would get (see
    ``store.fts.ideal_score``): lexical scores are divided by it when the best one falls short."""
    if not 0.0 <= lexical_weight <= 1.0:
        raise ValueError("lexical_weight must be within [0, 1]")
    lex, sem = max_normalise(lexical, lexical_ideal), max_normalise(semantic)
    w = lexical_weight
    docs: dict[D, FusedDocument[K, D]] = {}
    for chunk in dict.fromkeys([k for k, _ in lexical] + [k for k, _ in semantic]):
        doc_key = owner.get(chunk)
        if doc_key is None:
            continue
        doc = docs.get(doc_key)
        if doc is None:
            doc = docs[doc_key] = FusedDocument[K, D](doc_key, 0.0)
        lc, sc = lex.get(chunk, 0.0), sem.get(chunk, 0.0)
        doc.lexical, doc.semantic = max(doc.lexical, lc), max(doc.semantic, sc)
        doc.chunks.append((chunk, w * lc + (1 - w) * sc))
    if method == "convex":
        for doc in docs.values():
            doc.score = w * doc.lexical + (1 - w) * doc.semantic
    elif method == "rrf":
        by_lex = sorted((d for d in docs.values() if d.lexical > 0), key=lambda d: -d.lexical)
        by_sem = sorted((d for d in docs.values() if d.semantic > 0), key=lambda d: -d.semantic)
        weights = [w, 1 - w] if 0 < w < 1 else [1.0, 1.0]
        fused = dict(reciprocal_rank_fusion([[d.key for d in by_lex], [d.key for d in by_sem]],
                                            weights=weights))
        for doc in docs.values():
            doc.score = fused.get(doc.key, 0.0)
    else:
        raise ValueError(f"unknown fusion method {method!r}")
    order = {key: i for i, key in enumerate(docs)}
    for doc in docs.values():
        doc.chunks.sort(key=lambda cs: -cs[1])
    return sorted(docs.values(), key=lambda d: (-d.score, order[d.key]))
