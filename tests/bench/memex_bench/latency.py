"""Query latency at 100k and 1M chunks: synthetic libraries written through the store code
(Zipfian English-like text, clustered unit vectors — not real embeddings, so a million chunks
build in minutes), then per-stage p50/p95 against exact-search baselines from the same run, and
FTS5's BM25 against bm25s on the same text and queries (bm25s comes with memex-bench)."""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import apsw
import numpy as np
from memex.core.search.hybrid import Searcher, candidate_depth
from memex.core.search.query import fts_match_expression, query_terms
from memex.core.store import fts, migrate, open_connection, read_snapshot, write_transaction
from memex.core.store import vectors as vec
from memex.core.store.chunks import insert_chunks, mark_embedded
from memex.core.store.documents import DocumentRecord, write_document
from memex.core.store.fts import bm25_search
from memex.core.types import ChunkSpan

from . import bm25s_baseline
from .bm25s_baseline import Bm25sIndex
from .table import Row, format_rows

DIM = 384
MODEL_ID = "bench-synthetic-384"
BUILD_VERSION = 1
BATCH_CHUNKS = 20_000
CHUNKS_PER_DOC = 10
WORDS_PER_CHUNK = (150, 200)
VOCABULARY = 50_000
ZIPF_S = 1.05
K = 10
TARGET_MS = {100_000: 30.0, 1_000_000: 100.0}
RECALL_TARGET = 0.95
# bm25s builds its index in RAM, ~8 kB per chunk at peak (165 MB at 20k chunks): ~2.4 GB here,
# ~8 GB at 1M, so larger libraries are measured without it.
BM25S_MAX_CHUNKS = 300_000
# The most frequent English words, most frequent first; the rest of the vocabulary is made up.
COMMON = """the of and to a in is it you that he was for on are with as i his they be at one have
this from or had by not word but what some we can out other were all there when up use your how
said an each she which do their time if will way about many then them write would like so these
her long make thing see him two has look more day could go come did number sound no most people
my over know water than call first who may down side been now find any new work part take get
place made live where after back little only round man year came show every good me give our
under name very through just form sentence great think say help low line differ turn cause much
mean before move right boy old too same tell does set three want air well also play small end
put home read hand port large spell add even land here must big high such follow act why ask
men change went light kind off need house picture try us again animal point mother world near
build self earth father""".split()
ONSETS = "b c d f g h j k l m n p r s t v w z br cl dr fl gr pl pr sh st th tr ch sp bl cr".split()
VOWELS = "a e i o u ai ea ee oo ou ie".split()
CODAS = ["", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ng", "ck", "rt"]


# -- synthetic corpus ---------------------------------------------------------------------
def vocabulary(rng: np.random.Generator, size: int = VOCABULARY) -> np.ndarray:
    """``size`` distinct words, the common English ones first, then made-up words that grow
    longer with rank (frequent words are short)."""
    words = list(dict.fromkeys(COMMON))
    seen = set(words)
    onsets, vowels, codas = (np.array(x, dtype=object) for x in (ONSETS, VOWELS, CODAS))
    while len(words) < size:
        batch = 4 * (size - len(words))
        rank = len(words) + np.arange(batch) / 4
        syllables = 1 + np.minimum(2, rng.exponential(0.4 + 1.2 * rank / size).astype(int))
        parts = [onsets[rng.integers(0, len(onsets), batch)] + vowels[rng.integers(0, len(vowels), batch)]
                 + codas[rng.integers(0, len(codas), batch)] for _ in range(3)]
        for i, n in enumerate(syllables.tolist()):
            word = "".join(part[i] for part in parts[:n])
            if word not in seen:
                seen.add(word)
                words.append(word)
                if len(words) == size:
                    break
    return np.array(words, dtype=object)


def zipf_cdf(size: int = VOCABULARY, s: float = ZIPF_S) -> np.ndarray:
    weights = 1.0 / np.arange(1, size + 1) ** s
    return np.cumsum(weights / weights.sum())


def sample_words(rng: np.random.Generator, cdf: np.ndarray, count: int) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, rng.random(count)), len(cdf) - 1)


class VectorModel:
    """Clustered unit vectors: a topic per document, topics grouped under a few broad subjects;
    a chunk is its topic plus noise (nearest neighbours ≈ 0.3–0.5 cosine, strangers ≈ 0)."""

    def __init__(self, rng: np.random.Generator, topics: int, subjects: int = 50) -> None:
        subject = _unit(rng.standard_normal((subjects, DIM)))
        own = _unit(rng.standard_normal((topics, DIM)))
        self.centres = (0.35 * subject[rng.integers(0, subjects, topics)] + 0.6 * own).astype(np.float32)

    def draw(self, rng: np.random.Generator, topics: np.ndarray) -> np.ndarray:
        noise = rng.standard_normal((len(topics), DIM), dtype=np.float32) / np.float32(np.sqrt(DIM))
        return _unit(self.centres[topics] + noise)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def perturb(rng: np.random.Generator, vector: np.ndarray, noise: float = 0.5) -> np.ndarray:
    """A query vector near ``vector`` (cosine ≈ 0.9), so it has true neighbours."""
    return _unit((vector + noise * rng.standard_normal(DIM) / np.sqrt(DIM))[None, :])[0]


@dataclass
class Built:
    path: Path
    chunks: int
    seconds: float
    vectors: np.ndarray  # (chunks, DIM) float32, row i = chunk id i + 1
    reused: bool


def build_library(workdir: Path, chunks: int, seed: int = 7,
                  progress: Callable[[str], None] | None = None, model_id: str = MODEL_ID) -> Built:
    """Build (or reuse) ``workdir/latency-<chunks>.db`` and its vectors beside it (.npy).

    With another ``model_id`` (a real embedder's), the library opens and searches with that
    model: for measuring the app's memory on a library of this size."""
    workdir.mkdir(parents=True, exist_ok=True)
    name = f"latency-{chunks}" if model_id == MODEL_ID else f"synthetic-{chunks}-{model_id.replace(':', '-')}"
    path = workdir / f"{name}.db"
    npy = workdir / f"{name}.vectors.npy"
    stamp = {"version": BUILD_VERSION, "chunks": chunks, "seed": seed, "model_id": model_id}
    if path.exists() and npy.exists():
        conn = open_connection(path)
        try:
            migrate(conn)
            row = conn.execute("SELECT value FROM meta WHERE key = 'bench_build'").fetchone()
        except apsw.Error:
            row = None
        finally:
            conn.close()
        info = json.loads(row[0]) if row else {}
        if {k: info.get(k) for k in stamp} == stamp:
            return Built(path, chunks, float(info["seconds"]), np.load(npy, mmap_mode="r"), True)
    for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), npy):
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    words, cdf = vocabulary(np.random.default_rng(seed)), zipf_cdf()
    model = VectorModel(rng, topics=max(1, chunks // 100))
    out = np.lib.format.open_memmap(npy, mode="w+", dtype=np.float32, shape=(chunks, DIM))
    conn = open_connection(path)
    try:
        migrate(conn)
        conn.execute("PRAGMA cache_size=-262144")
        with write_transaction(conn):
            space = vec.ensure_space(conn, model_id, DIM)
            # FTS5 indexes a bulk load ~3x faster in one 'rebuild' than row by row through the
            # insert trigger; the trigger comes back afterwards, so the schema is the real one.
            trigger = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'chunks_fts_ai'").fetchone()[0]
            conn.execute("DROP TRIGGER chunks_fts_ai")
        done, doc_no = 0, 0
        while done < chunks:
            batch = min(BATCH_CHUNKS, chunks - done)
            with write_transaction(conn):
                ids, topics = [], []
                left = batch
                while left:
                    size = min(left, int(rng.integers(1, 2 * CHUNKS_PER_DOC)))
                    ids += _write_doc(conn, rng, words, cdf, doc_no, size)
                    topics += [int(rng.integers(0, len(model.centres)))] * size
                    doc_no += 1
                    left -= size
                vectors = model.draw(rng, np.array(topics))
                vec.insert_vectors(conn, space, ids, vectors)
                mark_embedded(conn, ids)
            out[np.array(ids) - 1] = vectors
            done += batch
            if progress:
                progress(f"{chunks:,}-chunk library: {done:,} chunks, {time.perf_counter() - started:.0f} s")
        if progress:
            progress(f"{chunks:,}-chunk library: full-text index")
        with write_transaction(conn):
            conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")
            conn.execute(trigger)
        seconds = time.perf_counter() - started
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('bench_build', ?)",
                     (json.dumps({**stamp, "seconds": seconds}),))
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    out.flush()
    del out
    return Built(path, chunks, seconds, np.load(npy, mmap_mode="r"), False)


def _write_doc(conn: apsw.Connection, rng: np.random.Generator, words: np.ndarray, cdf: np.ndarray,
               number: int, size: int) -> list[int]:
    record = DocumentRecord(path=f"/bench/folder{number // 500:04d}/doc{number:07d}.txt", kind="text",
                            size=0, mtime_ns=number, content_hash=f"{number:x}", source_id=None)
    doc_id = write_document(conn, record)
    lengths = rng.integers(WORDS_PER_CHUNK[0], WORDS_PER_CHUNK[1] + 1, size)
    drawn = words[sample_words(rng, cdf, int(lengths.sum()))]
    spans, pos, start = [], 0, 0
    for length in lengths.tolist():
        text = " ".join(drawn[start:start + length]) + "."
        spans.append(ChunkSpan(page=1, char_start=pos, char_end=pos + len(text), text=text,
                               token_count=length * 4 // 3))
        pos += len(text) + 1
        start += length
    insert_chunks(conn, doc_id, spans)
    first = int(conn.last_insert_rowid()) - size + 1
    return list(range(first, first + size))


# -- measuring ----------------------------------------------------------------------------
def queries_for(rng: np.random.Generator, vectors: np.ndarray, count: int,
                seed: int = 7) -> list[tuple[str, np.ndarray]]:
    """Queries of 3–8 words drawn like the text (so common words, stopwords included, appear),
    each with a vector close to a random stored chunk's."""
    words, cdf = vocabulary(np.random.default_rng(seed)), zipf_cdf()
    out = []
    for _ in range(count):
        text = " ".join(words[sample_words(rng, cdf, int(rng.integers(3, 9)))])
        out.append((text, perturb(rng, np.asarray(vectors[int(rng.integers(0, len(vectors)))]))))
    return out


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1000, result


def _pct(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return float(np.percentile(values, q))


def exact_numpy(unit_vectors: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    """Exact cosine top ``k`` over unit vectors held in memory (ids = row + 1)."""
    scores = unit_vectors @ query
    top = np.argpartition(-scores, k)[:k]
    return [int(i) + 1 for i in top[np.argsort(-scores[top])]]


@contextmanager
def previous_code_path() -> Iterator[None]:
    """Search as before this index and row budget: sqlite-vec exact KNN, every OR term scored."""
    saved = vec.EXACT_BELOW, fts.MAX_SCORED_ROWS
    vec.EXACT_BELOW, fts.MAX_SCORED_ROWS = 1 << 62, None
    try:
        yield
    finally:
        vec.EXACT_BELOW, fts.MAX_SCORED_ROWS = saved


def measure(built: Built, queries: int, seed: int = 11, lexical: Bm25sIndex | None = None) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    matrix = np.ascontiguousarray(built.vectors)  # in memory for the numpy baseline
    asked = queries_for(rng, matrix, queries)
    depth = candidate_depth(K)
    slow_every = max(1, queries // max(3, min(queries, 2_000_000 // built.chunks)))  # sqlite-vec: seconds at 1M
    stages: dict[str, list[float]] = {name: [] for name in (
        "hybrid", "vector", "numpy", "sqlite_vec", "hybrid_before")}
    quality: dict[str, list[float]] = {"recall": [], "recall50": [], "coarse_recall": []}
    conn = open_connection(built.path)
    try:
        space = vec.active_space(conn)
        assert space is not None
        load_ms, _ = _timed(lambda: vec.knn(conn, space, asked[0][1], depth))  # loads the codes
        for i, (text, qv) in enumerate(asked):
            searcher = Searcher(conn, space, lambda _text, q=qv: q)  # the query vector is given
            with read_snapshot(conn):
                stages["hybrid"].append(_timed(lambda s=searcher, t=text: s.search(t, K))[0])
            ms, found = _timed(lambda q=qv: vec.knn(conn, space, q, depth))
            stages["vector"].append(ms)
            ms, truth = _timed(lambda q=qv: exact_numpy(matrix, q, depth))
            stages["numpy"].append(ms)
            quality["recall"].append(len({c for c, _ in found[:K]} & set(truth[:K])) / K)
            quality["recall50"].append(len({c for c, _ in found} & set(truth)) / depth)
            quality["coarse_recall"].append(_coarse_recall(conn, space, qv, truth[:K]))
            with previous_code_path():
                if i % slow_every == 0:
                    stages["sqlite_vec"].append(_timed(lambda q=qv: vec.exact_knn(conn, space, q, depth))[0])
                    with read_snapshot(conn):
                        stages["hybrid_before"].append(_timed(lambda s=searcher, t=text: s.search(t, K))[0])
        lexical_figures = bm25_figures(conn, [text for text, _ in asked], depth, lexical)
        sizes = _table_bytes(conn)
    finally:
        conn.close()
    file_bytes = sum(p.stat().st_size for p in (built.path, Path(f"{built.path}-wal")) if p.exists())
    result = {f"{name}_p{q}": _pct(v, q) for name, v in stages.items() for q in (50, 95)}
    result.update({name: statistics.fmean(v) if v else 1.0 for name, v in quality.items()})
    result.update(lexical_figures)
    result.update(load_ms=load_ms, bytes_per_chunk=file_bytes / built.chunks,
                  index_bytes_per_chunk=(sizes.get("bits", 0) + sizes.get("int8", 0)) / built.chunks,
                  build_s=built.seconds, slow_queries=len(stages["sqlite_vec"]), queries=queries,
                  load_average=os.getloadavg()[0])
    result.update({f"{k}_bytes_per_chunk": v / built.chunks for k, v in sizes.items()})
    return result


def bm25_figures(conn: apsw.Connection, texts: list[str], depth: int,
                 lexical: Bm25sIndex | None = None) -> dict[str, float]:
    """BM25 top ``depth`` for each query, the stages taking turns: FTS5 as Memex searches (row
    budget), FTS5 with every OR term scored, and bm25s when given. p50/p95 ms, queries/s one
    query at a time, and top-10 overlaps (of each ranking with FTS5 scoring every term)."""
    names = ("bm25", "bm25_full", *(("bm25s",) if lexical is not None else ()))
    times: dict[str, list[float]] = {name: [] for name in names}
    overlap: dict[str, list[float]] = {"bm25_overlap": [], "bm25s_overlap": [], "bm25s_overlap_searched": []}
    for text in texts:
        match = fts_match_expression(text)
        ms, searched = _timed(lambda m=match: bm25_search(conn, m, depth) if m else [])
        times["bm25"].append(ms)
        with previous_code_path():
            ms, full = _timed(lambda m=match: bm25_search(conn, m, depth) if m else [])
        times["bm25_full"].append(ms)
        top = {c for c, _ in full[:K]}
        if top:
            overlap["bm25_overlap"].append(len(top & {c for c, _ in searched[:K]}) / len(top))
        if lexical is not None:
            terms = query_terms(text)
            ms, theirs = _timed(lambda t=terms: lexical.search(t, depth))
            times["bm25s"].append(ms)
            if top:
                overlap["bm25s_overlap"].append(len(top & set(theirs[:K])) / len(top))
            mine = {c for c, _ in searched[:K]}
            if mine:
                overlap["bm25s_overlap_searched"].append(len(mine & set(theirs[:K])) / len(mine))
    result = {f"{name}_p{q}": _pct(v, q) for name, v in times.items() for q in (50, 95)}
    result.update({f"{name}_qps": 1000 / max(statistics.fmean(v), 1e-9) for name, v in times.items()})
    result["bm25_overlap"] = statistics.fmean(overlap.pop("bm25_overlap") or [1.0])
    if lexical is not None:
        result.update({name: statistics.fmean(v or [0.0]) for name, v in overlap.items()})
        result.update(bm25s_build_s=lexical.seconds, bm25s_bytes=float(lexical.nbytes),
                      bm25s_stemmed=float(lexical.stemmed))
    return result


def _coarse_recall(conn: apsw.Connection, space: vec.VectorSpace, query: np.ndarray, truth: list[int]) -> float:
    """Recall@10 of the sign-bit ranking alone (no rescoring), to show what rescoring adds."""
    codes, _ = vec.vector_index.cached_codes(conn, space)
    distances = vec.vector_index.hamming(codes.planes, codes.n, vec.vector_index.sign_codes(query)[0])
    top = codes.ids[np.argsort(distances, kind="stable")[:K]]
    return len(set(top.tolist()) & set(truth)) / K


def _table_bytes(conn: apsw.Connection) -> dict[str, int]:
    groups: dict[str, int] = {}
    for name, size in conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
        kind = ("bits" if name.startswith("vec_bits_") else "int8" if name.startswith("vec_i8_")
                else "floats" if name.startswith("vec_chunks_") else "fts" if name.startswith("chunks_fts")
                else "text" if name.startswith(("chunks", "documents")) else "other")
        groups[kind] = groups.get(kind, 0) + int(size)
    return groups


# -- the table ----------------------------------------------------------------------------
def run(sizes: list[int], queries: int, workdir: Path,
        progress: Callable[[str], None] | None = None) -> list[dict]:
    """Table rows (``Row.as_dict()``) for each library size. Libraries in ``workdir`` are built
    once and reused: at 1M chunks ~3.7 GB plus 1.5 GB of vectors (.npy), which the numpy
    baseline also holds in memory; the 1M build takes ~8 minutes on two busy cores."""
    rows: list[Row] = []
    if not bm25s_baseline.available():
        _note(f"bm25s baseline skipped: bm25s is not installed (install with {bm25s_baseline.INSTALL_HINT}).")
    for size in sizes:
        built = build_library(Path(workdir), size, progress=progress)
        lexical = None
        if bm25s_baseline.available():
            if size <= BM25S_MAX_CHUNKS:
                lexical = Bm25sIndex(built.path)
            else:
                _note(f"bm25s baseline skipped at {size:,} chunks: its in-memory index would need about "
                      f"{size * 8 / 1e6:.0f} GB at peak; it is measured up to {BM25S_MAX_CHUNKS:,} chunks.")
        m = measure(built, queries, lexical=lexical)
        del lexical
        rows += _rows(size, m, built.reused)
    return [r.as_dict() for r in rows]


def _note(message: str) -> None:
    print(message, file=sys.stderr)


def _rows(size: int, m: dict[str, float], reused: bool) -> list[Row]:
    tag = f"{size // 1000}k" if size < 1_000_000 else f"{size / 1e6:g}M"
    target = TARGET_MS.get(size)
    slow, depth = int(m["slow_queries"]), candidate_depth(K)
    before = f"before (all OR terms, sqlite-vec exact), {slow} q"
    return [
        Row(f"{tag} hybrid search p50 (no rerank, no embedding)", m["hybrid_p50"], "ms",
            f"≤ {target:g} ms" if target else "", before, m["hybrid_before_p50"],
            m["hybrid_p50"] <= target if target else None),
        Row(f"{tag} hybrid search p95", m["hybrid_p95"], "ms", "", before, m["hybrid_before_p95"]),
        Row(f"{tag} BM25 top-{depth} p50 (≤ {fts.MAX_SCORED_ROWS or 0:,} rows scored)", m["bm25_p50"], "ms", "",
            "every OR term scored", m["bm25_full_p50"]),
        Row(f"{tag} BM25 top-{depth} p95", m["bm25_p95"], "ms", "", "every OR term scored", m["bm25_full_p95"]),
        Row(f"{tag} BM25 top-10 overlap with every term scored", m["bm25_overlap"], ""),
        *bm25s_rows(tag, m, m["fts_bytes_per_chunk"] * size if "fts_bytes_per_chunk" in m else None),
        Row(f"{tag} vector top-{depth} p50 (sign bits + int8 rescore)", m["vector_p50"], "ms", "",
            "numpy exact, floats in RAM", m["numpy_p50"]),
        Row(f"{tag} vector top-{depth} p95", m["vector_p95"], "ms", "", f"sqlite-vec exact p50, {slow} q",
            m["sqlite_vec_p50"]),
        Row(f"{tag} vector recall@10 vs exact float", m["recall"], "", f"≥ {RECALL_TARGET}",
            "sign bits alone", m["coarse_recall"], m["recall"] >= RECALL_TARGET),
        Row(f"{tag} vector recall@{depth} vs exact float", m["recall50"], ""),
        Row(f"{tag} first query (loads the sign bits)", m["load_ms"], "ms"),
        Row(f"{tag} library bytes per chunk", m["bytes_per_chunk"], "B", "",
            "without the bits + int8 tables", m["bytes_per_chunk"] - m["index_bytes_per_chunk"]),
        Row(f"{tag} build time{' (reused)' if reused else ''}", m["build_s"], "s"),
        Row(f"{tag} load average during the run ({int(m['queries'])} queries)", m["load_average"], ""),
    ]


def bm25s_rows(tag: str, m: dict[str, float], fts_bytes: float | None = None) -> list[Row]:
    """Memex's FTS5 BM25 next to bm25s on the same queries; none when bm25s was not measured."""
    if "bm25s_p50" not in m:
        return []
    depth = candidate_depth(K)
    name = f"bm25s ({'Porter stems' if m['bm25s_stemmed'] else 'no stemmer'}, numpy, RAM)"
    rows = [
        Row(f"{tag} BM25 top-{depth} p50, FTS5 as searched", m["bm25_p50"], "ms", "", name, m["bm25s_p50"]),
        Row(f"{tag} BM25 top-{depth} p95, FTS5 as searched", m["bm25_p95"], "ms", "", "bm25s", m["bm25s_p95"]),
        Row(f"{tag} BM25 queries/s, one at a time, FTS5 as searched", m["bm25_qps"], "q/s", "", "bm25s",
            m["bm25s_qps"]),
        Row(f"{tag} bm25s top-10 overlap with FTS5, every term scored", m["bm25s_overlap"], "", "",
             "with FTS5 as searched", m["bm25s_overlap_searched"]),
        Row(f"{tag} bm25s index build", m["bm25s_build_s"], "s"),
    ]
    if fts_bytes is not None:
        rows.append(Row(f"{tag} FTS5 index on disk", fts_bytes / 1e6, "MB", "", "bm25s matrix in RAM",
                        m["bm25s_bytes"] / 1e6))
    return rows


def format_table(rows: list[dict]) -> str:
    return format_rows([Row(**r) for r in rows])
