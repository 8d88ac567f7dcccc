"""Every model one library uses, and their life cycles: loading, sharing, query cache, release.

A library embeds with the configured model (from the settings, or given to ``Library.open``),
answers queries in a vector space with the model that made that space's vectors (a switch
may leave the setting ahead of the library), and measures or fills a new space with a switch
target. Whatever role asks first, a model id is loaded once and shared by every role that
needs it. The set runs no SQL: callers read the spaces and pass them in.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Literal

from ..config import Settings
from ..errors import LibraryError, MemexError
from ..store.vectors import VectorSpace
from .protocols import Embedder, HoldsMemory, Reranker, RunsOnDevice
from .switch import setting_for

if TYPE_CHECKING:
    import numpy as np

QUERY_CACHE_SIZE = 128  # query vectors kept, across models (a few hundred KB)
# Small batches: activations of 32 × 256-token sequences alone take ~800 MB. On the CPU two
# batches run side by side (see embedding.side_by_side): batches of 4 embed as fast as 8
# (39-41 against 39 chunks/s at 256 tokens) with half the activations held at once.
EMBED_BATCH_SIZE = 4
# On a GPU one run should carry enough work to keep it busy: 64 × 256 tokens, and many more
# short texts (see Embedder.embed_documents); its activations live in GPU memory.
GPU_EMBED_BATCH_SIZE = 64


def embed_batch_size(embedder: Embedder) -> int:
    """The batch size to index with: larger on an accelerator than on the CPU."""
    if isinstance(embedder, RunsOnDevice) and any(p != "CPUExecutionProvider" for p in embedder.providers):
        return GPU_EMBED_BATCH_SIZE
    return EMBED_BATCH_SIZE

ModelSpec = str | os.PathLike[str]
EmbedderChoice = Embedder | ModelSpec | None
RerankerChoice = Reranker | ModelSpec | Literal[False] | None


class ModelSet:
    """The models of one library. Thread-safe; models load on first use.

    ``embedder``/``reranker`` may be a model spec (name or folder) or a loaded model; None
    takes the settings' choice, and ``reranker=False`` turns reranking off. ``settings``
    returns the library's current settings (read at each load)."""

    def __init__(self, settings: Callable[[], Settings], embedder: EmbedderChoice = None,
                 reranker: RerankerChoice = None) -> None:
        self._settings = settings
        self._embedder_choice = embedder
        self._reranker_choice = reranker
        self._lock = threading.Lock()  # guards the fields below; never held while loading
        self._loading = threading.Lock()  # one load at a time: a model id is never loaded twice
        self._embedder: Embedder | None = None
        if embedder is not None and not isinstance(embedder, str | os.PathLike):
            self._embedder = embedder  # a loaded model
        self._reranker: Reranker | None = None
        self._reranker_loaded = False
        self._switch_target: Embedder | None = None  # of the last switch estimated or started
        self._space_models: dict[str, Embedder] = {}  # made a space's vectors; not configured
        self._query_cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()

    # -- the configured models ------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The configured embedding model, loaded on first use (a second or so)."""
        with self._lock:
            if self._embedder is not None:
                return self._embedder
        choice = self._embedder_choice
        spec = os.fspath(choice) if isinstance(choice, str | os.PathLike) else self._settings().embedder
        return self._load(spec, "configured")

    @property
    def reranker(self) -> Reranker | None:
        """The cross-encoder, or None when none is configured."""
        with self._lock:
            if self._reranker_loaded:
                return self._reranker
        with self._loading:
            if not self._reranker_loaded:
                self._reranker = self._load_reranker()
                self._reranker_loaded = True
            return self._reranker

    def _load_reranker(self) -> Reranker | None:
        choice = self._reranker_choice
        if choice is False:
            return None
        if choice is not None and not isinstance(choice, str | os.PathLike):
            return choice  # a loaded model
        spec = os.fspath(choice) if choice is not None else self._settings().reranker
        if not spec:
            return None
        from .rerank import load_reranker

        settings = self._settings()
        return load_reranker(spec, threads=settings.effective_threads(), device=settings.device)

    @property
    def reranker_name(self) -> str | None:
        """The reranker as a status names it: what ``open`` was given, else the setting."""
        choice = self._reranker_choice
        return self._settings().reranker if choice is None or choice is False else str(choice)

    def configured_spec(self) -> str | None:
        """The setting that loads the configured embedder again (None: a model given loaded,
        or the default); what a new vector space records."""
        choice = self._embedder_choice
        if choice is None:
            return setting_for(self._settings().embedder)
        if isinstance(choice, str | os.PathLike):
            return setting_for(choice)
        return None  # a loaded model: its id says what it is

    def keeps_space_model(self, space: VectorSpace) -> bool:
        """Whether writes into ``space`` go on with the model that made it rather than the
        configured one. A differing *setting* (switched by another process, or edited by
        hand) keeps the library's model: vectors are never silently made again with another
        one. A model given to ``open`` is never swapped: the store refuses it clearly."""
        return space.model_id != self.embedder.model_id and self._embedder_choice is None

    # -- models of vector spaces ----------------------------------------------------------
    def embedder_for(self, space: VectorSpace) -> Embedder:
        """The embedder that made ``space``'s vectors: queries must be embedded by it, whatever
        the setting says (it may name a model a switch is still moving to)."""
        found = self._held(space.model_id)
        if found is not None:
            return found
        try:
            configured: Embedder | None = self.embedder
        except MemexError:
            configured = None
        if configured is not None and configured.model_id == space.model_id:
            return configured
        try:
            return self._load(space.spec or space.model_id, "space", expect=space.model_id)
        except _OtherModel as exc:
            raise LibraryError(
                f"This library's vectors were made with '{space.model_id}', but its model files now "
                f"hold '{exc.model_id}'. Restore that model, or switch the library to this one.") from None
        except MemexError as exc:
            raise LibraryError(
                f"This library's vectors were made with '{space.model_id}', which cannot be loaded "
                f"({exc}). Set the embedder back to '{space.model_id}'.") from exc

    def query_embedder(self, space: VectorSpace) -> Callable[[str], np.ndarray]:
        """Embeds queries for searching ``space`` (by its own model, through the cache)."""
        return partial(self.embed_query, self.embedder_for(space))

    def embed_query(self, embedder: Embedder, text: str) -> np.ndarray:
        """``embedder``'s vector for ``text``, from the cache of recent queries when it is there
        (the window searches as the user types: the same text comes again and again)."""
        key = (embedder.model_id, text)
        with self._lock:
            cached = self._query_cache.get(key)
            if cached is not None:
                self._query_cache.move_to_end(key)
                return cached
        vector = embedder.embed_query(text)
        with self._lock:
            self._query_cache[key] = vector
            while len(self._query_cache) > QUERY_CACHE_SIZE:
                self._query_cache.popitem(last=False)
        return vector

    # -- switching ------------------------------------------------------------------------
    def switch_target(self, spec: ModelSpec | None) -> Embedder:
        """The model a switch to ``spec`` (a name, folder, or None for the default) embeds
        with; a bad name or folder fails here, clearly, before anything is loaded."""
        return self._load(None if spec is None else os.fspath(spec), "switch")

    def adopt(self, target: Embedder) -> None:
        """After a swap: ``target`` is the configured embedder from now on (the caller saves
        the setting); models of spaces that are gone are let go."""
        with self._lock:
            self._embedder = target
            if self._embedder_choice is not None:
                self._embedder_choice = target
            self._space_models = {}
            self._query_cache.clear()

    # -- memory ---------------------------------------------------------------------------
    def release_memory(self) -> None:
        """Give back what each loaded model keeps between runs (see ``shrink_arena``)."""
        with self._lock:
            models = [*self._embedders(), self._reranker]
        for model in {id(m): m for m in models if m is not None}.values():
            if isinstance(model, HoldsMemory):
                model.release_memory()

    # -- loading --------------------------------------------------------------------------
    def _embedders(self) -> Iterator[Embedder]:
        """Every embedder held (call with ``_lock`` held)."""
        for model in (self._embedder, self._switch_target, *self._space_models.values()):
            if model is not None:
                yield model

    def _held(self, model_id: str) -> Embedder | None:
        with self._lock:
            return next((m for m in self._embedders() if m.model_id == model_id), None)

    def _load(self, spec: str | None, role: Literal["configured", "switch", "space"],
              expect: str | None = None) -> Embedder:
        """The model ``spec`` names, held from now on in ``role``: the one already held for its
        model id, else loaded now. Raises ``_OtherModel`` when it is not ``expect``, before
        loading anything."""
        from .embedding import open_embedder
        from .resolve import resolve_embedder

        with self._loading:
            model = resolve_embedder(spec)
            if expect is not None and model.model_id != expect:
                raise _OtherModel(model.model_id)
            found = self._held(model.model_id)
            if found is None:
                settings = self._settings()
                found = open_embedder(model, threads=settings.effective_threads(), device=settings.device)
            with self._lock:
                if role == "configured":
                    self._embedder = self._embedder or found
                    return self._embedder
                if role == "switch":
                    self._switch_target = found
                elif found is not self._embedder and found is not self._switch_target:
                    self._space_models.setdefault(model.model_id, found)
            return found


class _OtherModel(Exception):
    def __init__(self, model_id: str) -> None:
        super().__init__(model_id)
        self.model_id = model_id
