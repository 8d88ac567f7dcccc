"""Cross-encoder reranking: score (query, passage) pairs with an ONNX sequence classifier."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .. import config
from ..errors import ModelError
from . import rerank_optimize
from .embedding import BatchFeeder, length_sorted_batches, load_tokenizer, pad_token_id, run_batches, side_by_side
from .onnx_session import create_session, default_threads, ort, runs_on_cpu, shrink_arena
from .resolve import ResolvedModel, resolve_reranker

log = logging.getLogger(__name__)

# Pairs per run. Small batches keep each layer's activations in the CPU caches: on 2 cores,
# top-30 took about 1.5x less time in batches of 2 than of 16 with the int8 model (fp32: 1.2x).
# On the CPU they run side by side, one thread each (see ``embedding.side_by_side``).
BATCH_SIZE = 2


class Reranker:
    """A loaded cross-encoder. Safe to share between threads."""

    def __init__(self, model: ResolvedModel, session: ort.InferenceSession, warnings: Sequence[str] = (),
                 onnx_path: Path | None = None, workers: int = 1) -> None:
        self.model_id = model.model_id
        self.onnx_path = Path(onnx_path or model.onnx_path)
        self.optimized = self.onnx_path != Path(model.onnx_path)  # running the int8 copy
        self.max_tokens = model.max_tokens
        self.providers: list[str] = list(session.get_providers())
        self.warnings: list[str] = list(warnings)
        self._plain = load_tokenizer(model.tokenizer_path)
        self._pairs = load_tokenizer(model.tokenizer_path)
        self._pairs.enable_truncation(max_length=self.max_tokens, strategy="only_second")
        self._session = session
        self._feeder = BatchFeeder(session, pad_token_id(self._plain))
        outputs = session.get_outputs()
        names = [o.name for o in outputs]
        self._output = "logits" if "logits" in names else names[0]
        if len(outputs[names.index(self._output)].shape) != 2:
            raise ModelError(f"{model.onnx_path} does not look like a cross-encoder (reranker).")
        self.workers = max(1, workers)
        self._pool = side_by_side(self.workers, "rerank")

    def __repr__(self) -> str:
        return f"Reranker({self.model_id!r}, providers={self.providers}, optimized={self.optimized})"

    def _fit_query(self, query: str) -> str:
        """Cut a very long query to half the window so "only_second" truncation can work."""
        limit = max(1, self.max_tokens // 2)
        enc = self._plain.encode(query, add_special_tokens=False)
        if len(enc.ids) <= limit:
            return query
        return query[: enc.offsets[limit - 1][1]]

    def release_memory(self) -> None:
        """Free what the model's runs keep for reuse (see ``onnx_session.shrink_arena``)."""
        shrink_arena(self._session, self._feeder.feed([self._pairs.encode("a", "a")]))

    def score(self, query: str, passages: Sequence[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Raw relevance logits, shape (len(passages),), float32, in input order.

        Higher is more relevant; the scale depends on the model. Passages are truncated so
        each pair fits ``max_tokens``.
        """
        out = np.zeros(len(passages), dtype=np.float32)
        if not passages:
            return out
        query = self._fit_query(query)
        encodings = self._pairs.encode_batch([(query, p) for p in passages])

        def run(batch: list[int]) -> None:
            feed = self._feeder.feed([encodings[i] for i in batch])
            logits = np.asarray(self._session.run([self._output], feed)[0], dtype=np.float32)
            # One logit per pair; a two-class head gives (not relevant, relevant): take the last.
            out[batch] = logits[:, -1]

        run_batches(self._pool, run, length_sorted_batches(encodings, batch_size))
        return out


def load_reranker(spec: str, *, threads: int = 0, device: str = "cpu", optimize: bool | None = None) -> Reranker:
    """Resolve ``spec`` (a catalogue name or a model folder), verify it, and open it.

    On the CPU the optimised int8 copy (``rerank_optimize``) is used, built on first load;
    ``optimize`` False, or ``MEMEX_RERANK_OPTIMIZE=0``, keeps the model as downloaded.
    """
    model = resolve_reranker(spec)
    workers = threads if threads > 0 else default_threads()  # CPU: that many single-threaded runs at once
    wanted = rerank_optimize.enabled() if optimize is None else optimize
    if wanted and runs_on_cpu(device):
        cache = config.cache_dir() / "optimized"  # derived model copies, rebuilt when missing
        path = rerank_optimize.optimized_reranker_model(model.onnx_path, model.tokenizer_path, cache,
                                                        source_sha256=model.sha256)
        if path != model.onnx_path:
            try:
                session, warnings = create_session(path, threads=1, device=device)
                return Reranker(model, session, warnings, onnx_path=path, workers=workers)
            except ModelError as exc:
                log.warning("Using the original reranker model: %s", exc)
    if runs_on_cpu(device):
        session, warnings = create_session(model.onnx_path, threads=1, device=device)
        return Reranker(model, session, warnings, workers=workers)
    session, warnings = create_session(model.onnx_path, threads=threads, device=device)
    return Reranker(model, session, warnings)

