"""One search of a library as ``Library.search`` runs it: the query parsed once, the active
vector space and its query embedder, the hybrid search, then the reranker. Any text is a
query: characters no text can hold count as spaces."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..store.vectors import active_space
from .hybrid import Searcher, rerank_hits
from .query import parse_query
from .spelling import suggest

if TYPE_CHECKING:
    from ..config import Settings
    from ..models.model_set import ModelSet
    from ..store import Store
    from ..types import Hit, SearchFilters

_SURROGATES = re.compile("[\ud800-\udfff]")
#: Settings every search reads as it starts (a change answers the same query differently).
RANKING_FIELDS = ("lexical_weight", "fusion", "semantic_floor")


def ranking_changed(old: Settings, new: Settings) -> bool:
    """Whether ``new`` ranks results differently from ``old`` (see ``RANKING_FIELDS``)."""
    return any(getattr(old, name) != getattr(new, name) for name in RANKING_FIELDS)


def without_surrogates(query: str) -> str:
    """``query`` with lone surrogates (from undecodable bytes) made spaces."""
    return _SURROGATES.sub(" ", query)


def search_library(store: Store, models: ModelSet, settings: Settings, query: str, k: int, *,
                   filters: SearchFilters | None, mode: str, rerank: bool | None,
                   prefix_last: bool, lexical_weight: float | None, fusion: str | None) -> list[Hit]:
    """The hits of ``query`` (see ``Library.search``); ``settings`` is one value for the whole
    search."""
    query = without_surrogates(query)
    if not query or not query.strip() or k <= 0:
        return []
    parsed = parse_query(query, prefix_last)
    with store.read() as conn:
        space = active_space(conn) if mode != "bm25" else None
        embed = models.query_embedder(space) if space is not None else None
        weight = settings.lexical_weight if lexical_weight is None else lexical_weight
        hits = Searcher(conn, space, embed).search(
            parsed, k, filters, mode, lexical_weight=weight, fusion=fusion or settings.fusion,
            semantic_floor=settings.semantic_floor)
    if rerank is not False and hits and models.reranker is not None:
        hits = rerank_hits(parsed, hits, models.reranker)
    return hits


def spelling_correction(store: Store, query: str, prefix_last: bool) -> str | None:
    """``query`` with the words the library does not hold corrected (see ``spelling``), or None."""
    query = without_surrogates(query)
    if not query.strip():
        return None
    with store.read() as conn:
        return suggest(conn, query, prefix_last)


def reranked(models: ModelSet, query: str, hits: Sequence[Hit]) -> list[Hit]:
    """``hits`` in the cross-encoder's order (as they are when no reranker is configured)."""
    if not hits or models.reranker is None:
        return list(hits)
    return rerank_hits(without_surrogates(query), hits, models.reranker)
