"""The ModelSet: a model id is loaded once and shared by every role (configured embedder, switch
target, a vector space's own model); queries are cached per model id, within a bound; memory
release reaches every loaded model; a space whose model is gone says so clearly."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from memex.core.config import Settings
from memex.core.errors import LibraryError
from memex.core.library import Library
from memex.core.memory import release_free_heap
from memex.core.models.model_set import QUERY_CACHE_SIZE, ModelSet
from memex.core.models.resolve import resolve_embedder
from memex.core.store.vectors import VectorSpace

SETTINGS = Settings(threads=2)


def _space_of(folder: Path, space_id: int = 2) -> VectorSpace:
    """A vector space made by the model in ``folder``, as the store describes it."""
    model_id = resolve_embedder(str(folder)).model_id
    return VectorSpace(space_id, model_id, 384, f"vec_{space_id}", spec=str(folder))


def test_a_model_id_is_loaded_once_whatever_role_asks_first(fp32_embedder_dir: Path) -> None:
    models = ModelSet(lambda: SETTINGS)  # the settings' (default) embedder
    space = _space_of(fp32_embedder_dir)
    made_it = models.embedder_for(space)  # a space's own model first
    assert made_it.model_id == space.model_id and made_it is not models.embedder
    assert models.switch_target(fp32_embedder_dir) is made_it  # a switch to it takes the same one
    assert models.embedder_for(space) is made_it
    configured = models.embedder
    assert models.switch_target("default") is configured  # and a switch back, the configured one
    assert models.embedder_for(VectorSpace(1, configured.model_id, configured.dim, "vec_1")) is configured
    assert models.embedder_for(space) is made_it  # the switch target moved on; the space keeps its model


def test_a_switch_target_the_settings_then_name_is_not_loaded_again(fp32_embedder_dir: Path) -> None:
    settings = Settings(threads=2, embedder=str(fp32_embedder_dir))
    models = ModelSet(lambda: settings)
    target = models.switch_target(fp32_embedder_dir)
    assert models.embedder is target


def test_roles_asking_at_the_same_moment_share_one_load(fp32_embedder_dir: Path) -> None:
    settings = Settings(threads=2, embedder=str(fp32_embedder_dir))
    models = ModelSet(lambda: settings)
    space = _space_of(fp32_embedder_dir)
    asks = {"configured": lambda: models.embedder,
            "switch": lambda: models.switch_target(fp32_embedder_dir),
            "space": lambda: models.embedder_for(space)}
    start, got = threading.Barrier(len(asks)), {}

    def ask(role: str) -> None:
        start.wait()
        got[role] = asks[role]()

    threads = [threading.Thread(target=ask, args=(role,)) for role in asks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert got["configured"] is got["switch"] is got["space"]


def test_the_query_cache_is_per_model_id(fp32_embedder_dir: Path, embedder) -> None:
    models = ModelSet(lambda: SETTINGS, embedder=embedder)
    fp32 = models.switch_target(fp32_embedder_dir)
    query = "tides over the harbour wall"
    mine = models.embed_query(embedder, query)
    theirs = models.embed_query(fp32, query)
    assert theirs is not mine  # same text, another model: never the other model's vector
    np.testing.assert_allclose(theirs, fp32.embed_query(query), atol=1e-6)
    np.testing.assert_allclose(mine, embedder.embed_query(query), atol=1e-6)
    assert models.embed_query(embedder, query) is mine and models.embed_query(fp32, query) is theirs


def test_the_query_cache_keeps_the_most_recent_queries_within_its_bound(embedder) -> None:
    models = ModelSet(lambda: SETTINGS, embedder=embedder)
    first = models.embed_query(embedder, "query 0")
    for i in range(1, QUERY_CACHE_SIZE):
        models.embed_query(embedder, f"query {i}")
    assert models.embed_query(embedder, "query 0") is first  # still held, and now the most recent
    for i in range(QUERY_CACHE_SIZE, 2 * QUERY_CACHE_SIZE - 1):
        models.embed_query(embedder, f"query {i}")
    assert models.embed_query(embedder, "query 0") is first  # QUERY_CACHE_SIZE - 1 newer ones: kept
    for i in range(QUERY_CACHE_SIZE):
        models.embed_query(embedder, f"later query {i}")
    again = models.embed_query(embedder, "query 0")
    assert again is not first  # pushed out, embedded anew
    np.testing.assert_allclose(again, first, atol=1e-6)


def test_adopting_a_switched_model_drops_the_old_models_queries(fp32_embedder_dir: Path, embedder) -> None:
    models = ModelSet(lambda: SETTINGS, embedder=embedder)
    old = models.embed_query(embedder, "ledger")
    target = models.switch_target(fp32_embedder_dir)
    models.adopt(target)
    assert models.embedder is target
    assert models.embed_query(embedder, "ledger") is not old
    assert models.configured_spec() is None  # a model given loaded is still what it is


def _anon_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        return int(next(line for line in fh if line.startswith("RssAnon:")).split()[1]) / 1024


_LONG = [" ".join(f"word{i}{j} boundary layer" for j in range(120)) for i in range(16)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; malloc_trim is glibc's")
@pytest.mark.parametrize("role", ["configured", "switch target", "space model", "reranker"])
@pytest.mark.slow
def test_release_memory_reaches_the_model_in_every_role(role: str, fp32_embedder_dir: Path, reranker_dir: Path,
                                                        embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMEX_RERANK_OPTIMIZE", "0")  # the reranker as downloaded: no copy to build
    models = ModelSet(lambda: SETTINGS, embedder=embedder, reranker=str(reranker_dir))
    if role == "configured":
        work = lambda: embedder.embed_documents(_LONG, batch_size=8)  # noqa: E731
    elif role == "switch target":
        target = models.switch_target(fp32_embedder_dir)
        work = lambda: target.embed_documents(_LONG, batch_size=8)  # noqa: E731
    elif role == "space model":
        made_it = models.embedder_for(_space_of(fp32_embedder_dir))
        work = lambda: made_it.embed_documents(_LONG, batch_size=8)  # noqa: E731
    else:
        reranker = models.reranker
        assert reranker is not None
        work = lambda: reranker.score("flat plate flow", _LONG)  # noqa: E731
    work()  # long batches grow ONNX Runtime's arena of that model only
    release_free_heap()
    grown = _anon_mb()
    models.release_memory()
    release_free_heap()
    assert _anon_mb() < grown - 20


def test_a_space_whose_model_cannot_be_loaded_says_which_model(tmp_path: Path, fp32_embedder_dir: Path,
                                                               embedder) -> None:
    models = ModelSet(lambda: SETTINGS, embedder=embedder)
    gone = VectorSpace(2, "local:notes-model:0123456789ab", 384, "vec_2", spec=str(tmp_path / "gone"))
    with pytest.raises(LibraryError, match="made with 'local:notes-model:0123456789ab', which cannot be "
                                           "loaded .*Set the embedder back to 'local:notes-model"):
        models.embedder_for(gone)
    replaced = VectorSpace(3, "local:all-MiniLM-L6-v2:000000000000", 384, "vec_3", spec=str(fp32_embedder_dir))
    other_id = resolve_embedder(str(fp32_embedder_dir)).model_id
    with pytest.raises(LibraryError, match=f"its model files now hold '{other_id}'"):
        models.embedder_for(replaced)


def test_reranker_false_turns_reranking_off_whatever_the_settings_say(reranker_dir: Path) -> None:
    settings = Settings(reranker=str(reranker_dir))
    off = ModelSet(lambda: settings, reranker=False)
    assert off.reranker is None
    assert off.reranker_name == str(reranker_dir)  # what the status shows: the configured one
    assert ModelSet(lambda: Settings()).reranker is None  # none configured


class _LetterCounts:
    """A model given to ``Library.open`` that ONNX Runtime does not run: letter counts."""

    model_id = "letter-counts-26"
    dim = 26

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer

    def embed_documents(self, texts: Sequence[str], batch_size: int = 32, *, narrow: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            for ch in text.lower():
                if "a" <= ch <= "z":
                    out[row, ord(ch) - 97] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


def test_a_model_that_is_not_onnx_indexes_searches_and_passes_the_doctor(tmp_path: Path, embedder) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("juniper and thistle on the mesa", encoding="utf-8")
    with Library.open(tmp_path / "library.db", embedder=_LetterCounts(embedder.tokenizer), reranker=False) as lib:
        assert lib.index([tmp_path / "docs"]).added == 1
        assert [h.path for h in lib.search("thistle mesa", mode="dense")] == [str(tmp_path / "docs" / "a.txt")]
        lib.release_memory()  # nothing to give back: no error either
        checks = {c.name: c for c in lib.doctor()}
    assert checks["embedder"].ok and checks["embedder"].detail == "letter-counts-26 (26 dimensions)"
