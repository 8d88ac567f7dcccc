"""bm25s (the ``bm25s`` package: BM25 as a sparse numpy matrix held in RAM) over a library's
chunk texts, searched with the same query terms as Memex: the lexical baseline of the latency
benchmark. memex-bench depends on it (``pip install -e tests/bench``)."""

from __future__ import annotations

import importlib.util
import itertools
import time
from pathlib import Path

import numpy as np
from memex.core.errors import MemexError
from memex.core.store import open_connection

INSTALL_HINT = "pip install -e tests/bench"
K1, B = 1.2, 0.75  # the constants of FTS5's bm25()
READ_BATCH = 20_000


def available() -> bool:
    return importlib.util.find_spec("bm25s") is not None


def porter_stemmer():
    """PyStemmer's Porter stemmer (FTS5 indexes with the Porter stemmer too), or None without it."""
    try:
        import Stemmer
    except ImportError:
        return None
    return Stemmer.Stemmer("porter")


class Bm25sIndex:
    """bm25s over every chunk of the library at ``path``, tokenized like FTS5 indexes them:
    lower-cased words (one-letter words and stopwords kept, so document lengths match), Porter
    stems when PyStemmer is installed. Queries are Memex's query terms (stopwords dropped).
    Scoring is Robertson's BM25 with FTS5's k1 and b."""

    def __init__(self, path: Path) -> None:
        import bm25s

        started = time.perf_counter()
        stemmer = porter_stemmer()
        self.stemmed = stemmer is not None
        self._tokenizer = bm25s.tokenization.Tokenizer(lower=True, splitter=r"(?u)\w+", stopwords=None,
                                                       stemmer=stemmer)
        ids: list[int] = []
        corpus: list[list[int]] = []
        conn = open_connection(path, readonly=True)
        try:
            rows = conn.execute("SELECT id, text FROM chunks ORDER BY id")
            while batch := list(itertools.islice(rows, READ_BATCH)):
                ids += [int(r[0]) for r in batch]
                corpus += self._tokenizer.streaming_tokenize([r[1] for r in batch], update_vocab=True)
        finally:
            conn.close()
        if not ids:
            raise MemexError(f"The library {path} has no chunks to index with bm25s.")
        self._ids = np.array(ids, dtype=np.int64)
        self._empty = self._tokenizer.get_vocab_dict().get("")
        self._retriever = bm25s.BM25(k1=K1, b=B, method="robertson")
        self._retriever.index((corpus, self._tokenizer.get_vocab_dict()), show_progress=False)
        del corpus
        self.seconds = time.perf_counter() - started
        scores = self._retriever.scores
        self.nbytes = sum(v.nbytes for v in scores.values() if isinstance(v, np.ndarray))

    def __len__(self) -> int:
        return len(self._ids)

    def search(self, terms: list[str], k: int) -> list[int]:
        """Chunk ids of the top ``k`` chunks holding any of ``terms`` (from ``query_terms``), best first."""
        tokens = next(self._tokenizer.streaming_tokenize([" ".join(terms)], update_vocab=False))
        tokens = [t for t in tokens if t != self._empty]
        if not tokens:
            return []
        docs, scores = self._retriever.retrieve([tokens], k=min(k, len(self._ids)), show_progress=False)
        return self._ids[docs[0][scores[0] > 0]].tolist()
