"""BM25 search over the FTS5 index. The MATCH expression comes from ``search.query``, which
quotes every user term, so raw input never reaches FTS5's query syntax."""

from __future__ import annotations

import math

import apsw

from ..types import SearchFilters
from .caches import caches_of
from .counts import library_counts
from .filters import filter_sql
from .sql import in_batches, one_int, one_row, rows

# bm25() costs ~1 µs for every row any OR term matches, and counts every row of each term for
# its IDF, so an OR of common words over a million chunks takes a second or more. Past these
# budgets only rows holding the rarest terms are ranked, commoner terms still add their weight
# to those rows, and the commonest (IDF near 0) are left out; see ``_plan``. None: no budget.
MAX_SCORED_ROWS: int | None = 20_000
MAX_WEIGHED_ROWS = 200_000


def bm25_search(
    conn: apsw.Connection, match: str, limit: int, filters: SearchFilters | None = None
) -> list[tuple[int, float]]:
    """Top ``limit`` chunks for ``match``, best first, as (chunk id, bm25 score ≥ 0).

    Within the budgets this is plain FTS5 ranking. Past them, the chunks ranked are those
    holding the rarest terms; each gets its full score (commoner terms included, unless too
    common to matter), so the order among them is unchanged."""
    rare, common, lowest = _plan(conn, match)
    found = _ranked(conn, rare, limit, filters, lowest)
    if common is not None:  # those of the rows that also hold commoner terms, scored with them
        best = dict(found)
        for rowid, score in _ranked(conn, f"({rare}) AND ({common})", limit, filters, lowest):
            best[rowid] = max(score, best.get(rowid, score))
        found = sorted(best.items(), key=lambda item: -item[1])[:limit]
    return found


def name_matches(conn: apsw.Connection, match: str, limit: int, filters: SearchFilters | None = None
                 ) -> list[tuple[int, int]]:
    """(document id, its first chunk id) of readable documents whose file name or title holds
    ``match``, best first."""
    where, params = filter_sql(filters)
    sql = ("SELECT d.id, (SELECT c.id FROM chunks c WHERE c.document_id = d.id ORDER BY c.ord LIMIT 1) AS first "
           "FROM documents_fts f JOIN documents d ON d.id = f.rowid "
           f"WHERE documents_fts MATCH ? AND d.status = 'ok'{where} ORDER BY bm25(documents_fts) LIMIT ?")
    return [(int(doc), int(first)) for doc, first in rows(conn, sql, [match, *params, limit]) if first is not None]


def _ranked(conn: apsw.Connection, match: str, limit: int, filters: SearchFilters | None,
            lowest: int | None) -> list[tuple[int, float]]:
    where, params = filter_sql(filters)
    window = "" if lowest is None else " AND f.rowid >= ?"
    sql = (
        "SELECT f.rowid, bm25(chunks_fts) AS s FROM chunks_fts f "
        + ("JOIN chunks c ON c.id = f.rowid JOIN documents d ON d.id = c.document_id " if where else "")
        + f"WHERE chunks_fts MATCH ?{window}{where} ORDER BY s LIMIT ?"
    )
    args = [match, *([] if lowest is None else [lowest]), *params, limit]
    return [(int(r[0]), -float(r[1])) for r in rows(conn, sql, args)]


def _plan(conn: apsw.Connection, match: str) -> tuple[str, str | None, int | None]:
    """How to rank an OR of quoted terms within budget: (the expression whose rows are ranked;
    the commoner terms that only add weight to those rows, or None; the lowest rowid to rank
    when even the narrowest expression matches too many rows, or None)."""
    budget = MAX_SCORED_ROWS
    phrases = split_or(match)
    if budget is None or not phrases:
        return match, None, None
    counts = sorted((_count(conn, p, max(budget, MAX_WEIGHED_ROWS) + 1), i) for i, p in enumerate(phrases))
    if sum(c for c, _ in counts) <= budget:
        return match, None, None
    rare: list[int] = []
    common: list[int] = []
    matched = weighed = 0
    for count, i in counts:  # rarest first: ranked while they fit, then weighed, then left out
        if not rare or matched + count <= budget:
            rare.append(i)
            matched += count
        elif weighed + count <= MAX_WEIGHED_ROWS:
            common.append(i)
            weighed += count
    ranked = " OR ".join(phrases[i] for i in sorted(rare))
    extra = " OR ".join(phrases[i] for i in sorted(common)) or None
    if matched <= budget:
        return ranked, extra, None
    if extra is not None:  # the rarest term alone is over budget: its rows that hold another term
        ranked, extra = f"({ranked}) AND ({extra})", None
        if _count(conn, ranked, budget + 1) <= budget:
            return ranked, None, None
    row = one_row(  # still over budget: rank the newest rows only
        conn, "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?",
        (ranked, budget - 1))
    return ranked, None, (int(row[0]) if row else None)


def ideal_score(conn: apsw.Connection, match: str) -> float:
    """The BM25 score of a chunk of average length holding each term of ``match`` once: the sum
    of the terms' IDF, as FTS5's bm25() computes it (k1 = 1.2, b = 0.75; at tf = 1 and average
    length a term adds exactly its IDF). A result scoring far below this matched only a small,
    common part of the query. 0 when ``match`` is not an OR of quoted terms."""
    phrases = split_or(match)
    if not phrases:
        return 0.0
    total_rows = library_counts(conn).chunks
    most = max(MAX_SCORED_ROWS or 0, MAX_WEIGHED_ROWS) + 1  # the counts ``_plan`` makes: cached
    total = 0.0
    for phrase in phrases:
        hits = min(_count(conn, phrase, most), total_rows)
        total += max(1e-6, math.log((total_rows - hits + 0.5) / (hits + 0.5)))
    return total


def term_count(conn: apsw.Connection, word: str, prefix: bool = False) -> int:
    """Chunks whose text holds ``word`` as the main index reads it (stemmed: "checkers" counts
    the chunks holding "checker"; with ``prefix``, any word starting with it), counted no
    further than the BM25 plan counts (its counts are cached and shared with it)."""
    quoted = '"' + word.replace('"', '""') + '"' + ("*" if prefix else "")
    return _count(conn, quoted, max(MAX_SCORED_ROWS or 0, MAX_WEIGHED_ROWS) + 1)


MAX_GRAMS = 512  # three-character pieces searched for a CJK word shorter than three, at most


def has_cjk_grams(conn: apsw.Connection) -> bool:
    """Whether the library has the CJK index of migration 0006 (a read-only one may not)."""
    return one_row(conn, "SELECT 1 FROM sqlite_schema WHERE name = 'chunks_grams_vocab'") is not None


MAX_WORD_GRAMS = 64  # three-character pieces of one long CJK word searched, at most
GRAM_DEPTH = 4  # a long word's candidates: this many times ``limit``, before its quorum


def cjk_search(conn: apsw.Connection, words: list[str], limit: int, filters: SearchFilters | None = None
               ) -> list[tuple[int, float]]:
    """Top ``limit`` chunks holding any of the CJK ``words`` anywhere in their text, best first,
    as (chunk id, bm25 score ≥ 0), from the three-character index. A word of three characters
    is searched as it is; a shorter one as every indexed piece that starts with it (保险 as
    保险制, 保险费 …), the ones most chunks hold first; a longer one (a run of CJK text, a whole
    question written without spaces) by its overlapping three-character pieces (see
    :func:`_long_word`), so a chunk saying most of it in other words is found too."""
    phrases: list[str] = []
    scores: dict[int, float] = {}
    for word in words:
        if len(word) > 3:
            for rowid, score in _long_word(conn, word, limit, filters):
                scores[rowid] = scores.get(rowid, 0.0) + score
        elif len(word) == 3:
            phrases.append(_quoted(word))
        elif word:
            found = rows(conn, "SELECT term FROM chunks_grams_vocab WHERE term >= ? AND term < ? "
                               "ORDER BY doc DESC LIMIT ?", (word, word + "\U0010ffff", MAX_GRAMS))
            phrases += [_quoted(str(r[0])) for r in found]
    if phrases:
        for rowid, score in _grams_ranked(conn, " OR ".join(phrases), limit, filters):
            scores[rowid] = scores.get(rowid, 0.0) + score
    return sorted(scores.items(), key=lambda item: -item[1])[:limit]


def _long_word(conn: apsw.Connection, word: str, limit: int, filters: SearchFilters | None
               ) -> list[tuple[int, float]]:
    """Chunks holding at least half of the three-character pieces of ``word`` that the library
    holds at all (a piece no chunk holds says nothing of any chunk), each scored by the BM25 of
    the pieces it holds times the share of those pieces it holds: a chunk holding all of them
    first, one holding a few rare ones before one holding a few common ones. The word itself
    is among them whenever a chunk holds it."""
    held = [g for g in word_grams(word) if one_row(conn, "SELECT 1 FROM chunks_grams_vocab WHERE term = ?", (g,))]
    if not held:
        return []
    quorum = gram_quorum(len(held))
    found = _grams_ranked(conn, " OR ".join(_quoted(g) for g in held), limit * GRAM_DEPTH, filters)
    texts = {int(r[0]): str(r[1]) for r in in_batches(conn, "SELECT id, text FROM chunks WHERE id IN ({ids})",
                                                      [rowid for rowid, _ in found])}
    folded = [g.casefold() for g in held]
    scored: list[tuple[int, float]] = []
    for rowid, score in found:
        text = texts.get(rowid, "").casefold()
        count = sum(g in text for g in folded)
        if count >= quorum:
            scored.append((rowid, score * count / len(held)))
    return scored


def word_grams(word: str) -> list[str]:
    """The overlapping three-character pieces of ``word``, each once (``MAX_WORD_GRAMS`` at most)."""
    return list(dict.fromkeys(word[i:i + 3] for i in range(len(word) - 2)))[:MAX_WORD_GRAMS]


def gram_quorum(held: int) -> int:
    """How many of the ``held`` pieces of a long CJK word (those the library holds) a text
    must hold to be said to hold the word: half of them, at least one. A question written
    without spaces shares few pieces with the note that answers it in other words
    (退休后每月能领多少钱 shares only 退休后 with its answer), and a piece the library does not
    hold tells no two texts apart."""
    return max(1, (held + 1) // 2)


def _grams_ranked(conn: apsw.Connection, match: str, limit: int, filters: SearchFilters | None
                  ) -> list[tuple[int, float]]:
    where, params = filter_sql(filters)
    sql = ("SELECT f.rowid, bm25(chunks_grams) AS s FROM chunks_grams f "
           + ("JOIN chunks c ON c.id = f.rowid JOIN documents d ON d.id = c.document_id " if where else "")
           + f"WHERE chunks_grams MATCH ?{where} ORDER BY s LIMIT ?")
    return [(int(r[0]), -float(r[1])) for r in rows(conn, sql, [match, *params, limit])]


def _quoted(phrase: str) -> str:
    return '"' + phrase.replace('"', '""') + '"'


def holds_together(conn: apsw.Connection, words: list[str]) -> bool:
    """Whether some chunk holds every one of ``words`` (as the main index reads them)."""
    match = " AND ".join('"' + w.replace('"', '""') + '"' for w in words)
    return bool(words) and _count(conn, match, 1) > 0


def split_or(match: str) -> list[str]:
    """The quoted phrases of ``"a" OR "b"*``, or [] when ``match`` is anything else."""
    parts = match.split(" OR ")
    ok = all(len(p) >= 2 and p[0] == '"' and p.rstrip("*").endswith('"') and '"' not in p.rstrip("*")[1:-1]
             for p in parts)
    return parts if ok else []


def _count(conn: apsw.Connection, phrase: str, most: int) -> int:
    """Rows matching ``phrase``, counting no further than ``most`` (cheap next to scoring);
    remembered by the Store until a chunk is written (see ``caches``). Inside a write
    transaction, which may still roll back, nothing is remembered."""
    sql = "SELECT count(*) FROM (SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)"
    if conn.txn_state("main") == apsw.SQLITE_TXN_WRITE:
        return one_int(conn, sql, (phrase, most))
    cache = caches_of(conn).term_counts
    version = library_counts(conn).chunk_version
    count = cache.get(version, phrase, most)
    if count is None:
        count = one_int(conn, sql, (phrase, most))
        cache.put(version, phrase, most, count)
    return count


def integrity_check(conn: apsw.Connection) -> str | None:
    """None when the full-text indexes (the main one, and the word and CJK indexes where the
    library has them) are sound and match the chunks table, else SQLite's message."""
    # rank 1: the index is checked against the chunks too; rank 0: only in itself (the CJK
    # index holds some chunks only, which a check against all of them would call missing)
    checks = [("chunks_fts", 1, "")]
    names = {str(r[0]) for r in rows(
        conn, "SELECT name FROM sqlite_schema WHERE name IN ('chunks_words', 'chunks_grams')")}
    checks += [(name, rank, label) for name, rank, label in
               (("chunks_words", 1, "word index: "), ("chunks_grams", 0, "CJK index: ")) if name in names]
    for table, rank, label in checks:
        try:
            conn.execute(f"INSERT INTO {table}({table}, rank) VALUES ('integrity-check', {rank})")
        except apsw.Error as exc:
            return f"{label}{exc}"
    return None
