"""Retrieval evaluation over BEIR-format collections, run through the real indexer and search.

Each corpus record becomes a small text file (title, blank line, text) that is indexed like
any other document, so the figures measure exactly what the app does."""

from __future__ import annotations

import csv
import json
import math
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from .errors import MemexError

EVAL_MODES = ("bm25", "dense", "hybrid", "rerank")
DOC_PREFIX = "doc_"


@dataclass(frozen=True)
class Collection:
    corpus: dict[str, tuple[str, str]]  # id → (title, text)
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]  # query id → {doc id: grade}


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError as exc:
                    raise MemexError(f"{path}:{number}: not valid JSON ({exc})") from exc
    return rows


def load_collection(folder: Path) -> Collection:
    """Read ``corpus.jsonl``, ``queries.jsonl`` and ``qrels.tsv`` (or ``qrels/test.tsv``)."""
    folder = Path(folder)
    qrels_path = next((p for p in (folder / "qrels.tsv", folder / "qrels" / "test.tsv")
                       if p.is_file()), None)
    for needed in (folder / "corpus.jsonl", folder / "queries.jsonl"):
        if not needed.is_file():
            raise MemexError(f"{needed} not found: a BEIR collection needs corpus.jsonl, "
                             "queries.jsonl and qrels.tsv (or qrels/test.tsv).")
    if qrels_path is None:
        raise MemexError(f"No qrels.tsv or qrels/test.tsv in {folder}.")
    corpus = {str(r["_id"]): (r.get("title") or "", r.get("text") or "")
              for r in _read_jsonl(folder / "corpus.jsonl")}
    queries = {str(r["_id"]): r.get("text") or "" for r in _read_jsonl(folder / "queries.jsonl")}
    qrels: dict[str, dict[str, int]] = {}
    with qrels_path.open(encoding="utf-8", newline="") as fh:
        reader: Iterator[list[str]] = csv.reader(fh, delimiter="\t")
        header = next(reader, None)
        if header and header[0].strip().isdigit() and len(header) >= 3:
            reader = iter([header, *reader])  # no header after all
        for row in reader:
            if len(row) < 3:
                continue
            qid, did, grade = row[0].strip(), row[1].strip(), int(float(row[-1]))
            if grade > 0:
                qrels.setdefault(qid, {})[did] = grade
    return Collection(corpus, queries, qrels)


# -- metrics (pure) ---------------------------------------------------------------------------
def ndcg_at(ranked: Sequence[str], grades: Mapping[str, int], k: int = 10) -> float:
    dcg = sum(grades.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(grades.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: Sequence[str], grades: Mapping[str, int], k: int = 100) -> float:
    relevant = {d for d, g in grades.items() if g > 0}
    return len(relevant.intersection(ranked[:k])) / len(relevant) if relevant else 0.0


def mrr_at(ranked: Sequence[str], grades: Mapping[str, int], k: int = 10) -> float:
    for i, d in enumerate(ranked[:k]):
        if grades.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


# -- corpus on disk ---------------------------------------------------------------------------
def doc_filename(doc_id: str) -> str:
    return DOC_PREFIX + quote(doc_id, safe="") + ".txt"


def doc_id_from_path(path: str) -> str:
    name = Path(path).name
    return unquote(name[len(DOC_PREFIX):-len(".txt")])


def write_corpus(collection: Collection, folder: Path) -> None:
    """One file per record; unchanged files are left alone so a reused library skips them."""
    folder.mkdir(parents=True, exist_ok=True)
    for doc_id, (title, text) in collection.corpus.items():
        body = f"{title.strip()}\n\n{text.strip()}\n" if title.strip() else f"{text.strip()}\n"
        target = folder / doc_filename(doc_id)
        data = body.encode("utf-8") if body.strip() else b""
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)


# -- the run ----------------------------------------------------------------------------------
def evaluate(
    folder: Path,
    modes: Sequence[str],
    library_path: Path | None = None,
    reranker: str | None = None,
    embedder: str | None = None,
    progress: Callable[[str], None] | None = None,
    search_options: Mapping[str, object] | None = None,
) -> dict[str, dict]:
    """Index the collection (reusing ``library_path`` if it exists) and score every mode."""
    from .library import Library

    for mode in modes:
        if mode not in EVAL_MODES:
            raise MemexError(f"Unknown mode '{mode}'; use one of {', '.join(EVAL_MODES)}.")
    if "rerank" in modes and not reranker:
        from .config import Settings

        if not Settings.load().reranker:
            raise MemexError("Mode 'rerank' needs a reranker: pass --reranker FOLDER.")
    collection = load_collection(folder)
    with tempfile.TemporaryDirectory(prefix="memex-eval-") as tmp:
        lib_path = Path(library_path) if library_path else Path(tmp) / "eval.db"
        corpus_dir = Path(f"{lib_path}.corpus")
        write_corpus(collection, corpus_dir)
        with Library.open(lib_path, embedder=embedder, reranker=reranker) as lib:
            started = time.perf_counter()
            lib.index([corpus_dir], progress=None)
            index_seconds = time.perf_counter() - started
            if progress:
                progress(f"indexed {len(collection.corpus)} documents in {index_seconds:.1f} s")
            results = {}
            for mode in modes:
                results[mode] = _score_mode(lib, collection, mode, index_seconds,
                                            dict(search_options or {}))
                if progress:
                    progress(f"{mode}: nDCG@10 {results[mode]['ndcg@10']:.4f}")
    return results


def _score_mode(lib, collection: Collection, mode: str, index_seconds: float,
                options: dict[str, object]) -> dict:
    ndcgs, recalls, mrrs, latencies = [], [], [], []
    per_query = {}
    search_mode = "hybrid" if mode == "rerank" else mode
    for qid, grades in collection.qrels.items():
        text = collection.queries.get(qid)
        if text is None:
            continue
        t0 = time.perf_counter()
        hits = lib.search(text, k=100, mode=search_mode, rerank=(mode == "rerank"), **options)
        latencies.append((time.perf_counter() - t0) * 1000)
        ranked = [doc_id_from_path(h.path) for h in hits]
        ndcgs.append(ndcg_at(ranked, grades, 10))
        recalls.append(recall_at(ranked, grades, 100))
        mrrs.append(mrr_at(ranked, grades, 10))
        per_query[qid] = {"ndcg@10": ndcgs[-1], "recall@100": recalls[-1], "mrr@10": mrrs[-1]}
    mean = statistics.fmean if ndcgs else (lambda _: 0.0)
    return {
        "mode": mode,
        "ndcg@10": mean(ndcgs),
        "recall@100": mean(recalls),
        "mrr@10": mean(mrrs),
        "queries": len(ndcgs),
        "index_seconds": index_seconds,
        "query_ms_p50": percentile(latencies, 0.5),
        "query_ms_p95": percentile(latencies, 0.95),
        "per_query": per_query,
    }
