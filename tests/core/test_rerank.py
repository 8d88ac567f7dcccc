"""The cross-encoder reranker on a RANDOM-weight model: plumbing, shape and determinism, and the
optimised int8 copy that loading builds for the CPU.

The model's scores carry no meaning, so nothing here checks ranking quality; agreement between
the optimised copy and the source is still meaningful (same weights, same inputs).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from memex.core import config
from memex.core.errors import ChecksumMismatch, ModelError
from memex.core.models import rerank_optimize
from memex.core.models.catalogue import installed_models
from memex.core.models.checksums import sha256_file
from memex.core.models.rerank import Reranker, load_reranker
from memex.core.models.resolve import resolve_reranker
from memex_bench.rerank import workload

RANDOM_SHA = "7d1792defda144ba7402fa0d6b7529b4af49f7c4e421345eb3b314b63d7efada"
QUERY = "when is the invoice due"
# Distinct token lengths, so length sorting gives the same batches whatever the input order.
PASSAGES = [("invoice due date payment " * n) + f"item {n}" for n in range(1, 24)]


@pytest.fixture(scope="module")
def built_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user folder where the module's reranker built its optimised copy."""
    return tmp_path_factory.mktemp("reranker-home")


@pytest.fixture(scope="module")
def reranker(reranker_dir: Path, built_home: Path) -> Reranker:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(config.HOME_ENV, str(built_home))
        return load_reranker(str(reranker_dir), threads=2)


@pytest.fixture(scope="module")
def source_reranker(reranker_dir: Path, built_home: Path) -> Reranker:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(config.HOME_ENV, str(built_home))
        return load_reranker(str(reranker_dir), threads=2, optimize=False)


def _copy(reranker_dir: Path, dst: Path, pin: str | None = None) -> Path:
    shutil.copytree(reranker_dir, dst)
    dst.chmod(0o755)
    for path in dst.iterdir():
        path.chmod(0o644)
    if pin is not None:
        (dst / "memex-model.json").write_text(json.dumps({"sha256": pin}), encoding="utf-8")
    return dst


def test_scores_shape_and_type(reranker: Reranker) -> None:
    assert reranker.model_id == f"local:random-cross-encoder-L6-H384:{RANDOM_SHA[:12]}"
    assert reranker.max_tokens == 512
    assert reranker.providers == ["CPUExecutionProvider"] and reranker.warnings == []
    scores = reranker.score(QUERY, PASSAGES)
    assert scores.shape == (len(PASSAGES),) and scores.dtype == np.float32
    assert np.isfinite(scores).all()


def test_deterministic(reranker: Reranker) -> None:
    np.testing.assert_array_equal(reranker.score(QUERY, PASSAGES), reranker.score(QUERY, PASSAGES))


@pytest.mark.slow
def test_input_order_is_preserved(reranker: Reranker) -> None:
    for batch_size in (1, 5, 16):
        forward = reranker.score(QUERY, PASSAGES, batch_size=batch_size)
        backward = reranker.score(QUERY, PASSAGES[::-1], batch_size=batch_size)
        np.testing.assert_array_equal(backward, forward[::-1])
    singles = np.array([reranker.score(QUERY, [p])[0] for p in PASSAGES], dtype=np.float32)
    np.testing.assert_array_equal(reranker.score(QUERY, PASSAGES, batch_size=1), singles)


@pytest.mark.slow
def test_batch_size_invariance(reranker: Reranker) -> None:
    """Padding must not leak into scores.

    This int8 model quantizes activations dynamically with one scale per tensor, so batch
    mates shift each other's logits a little (measured up to ~6e-3 here); exactness is only
    possible with the same batches, checked in test_input_order_is_preserved.
    """
    reference = reranker.score(QUERY, PASSAGES, batch_size=1)
    for batch_size in (2, 7, 16, 64):
        scores = reranker.score(QUERY, PASSAGES, batch_size=batch_size)
        np.testing.assert_allclose(scores, reference, atol=2e-2)


def test_empty_passages(reranker: Reranker) -> None:
    empty = reranker.score(QUERY, [])
    assert empty.shape == (0,) and empty.dtype == np.float32
    assert reranker.score(QUERY, [""]).shape == (1,)


def test_long_inputs_are_truncated(reranker: Reranker) -> None:
    long_passage = "paragraph " * 3000
    scores = reranker.score(QUERY, [long_passage, "paragraph " * 600])
    assert scores[0] == pytest.approx(scores[1], abs=1e-6)  # both cut to 512 tokens
    assert reranker.score("very long query " * 1000, [long_passage, "short"]).shape == (2,)


def test_tampered_copy_is_refused(reranker_dir: Path, tmp_path: Path) -> None:
    folder = _copy(reranker_dir, tmp_path / "pinned", pin=RANDOM_SHA)
    assert load_reranker(str(folder), threads=1, optimize=False).model_id.endswith(RANDOM_SHA[:12])
    data = bytearray((folder / "model.onnx").read_bytes())
    data[-4096:-4080] = bytes(b ^ 0x5A for b in data[-4096:-4080])
    (folder / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(ChecksumMismatch, match=str(folder / "model.onnx").replace("\\", ".")):
        load_reranker(str(folder), threads=1, optimize=False)


def test_catalogue_reranker_needs_its_folder(reranker_dir: Path) -> None:
    with pytest.raises(ModelError, match="not installed"):
        load_reranker("ms-marco-TinyBERT-L-2-v2")
    with pytest.raises(ModelError, match="is an embedder"):
        resolve_reranker("bge-small-en-v1.5")
    with pytest.raises(ModelError):
        load_reranker("")
    assert installed_models("reranker") == []
    # A catalogue entry with no published checksum takes the folder's files on first use...
    _copy(reranker_dir, config.models_dir() / "bge-reranker-base")
    assert [s.name for s in installed_models("reranker")] == ["bge-reranker-base"]
    loaded = load_reranker("bge-reranker-base", threads=1, optimize=False)
    assert loaded.model_id == "bge-reranker-base"
    assert loaded.score(QUERY, PASSAGES[:3]).shape == (3,)
    # ...one with a pinned checksum refuses other files under its name.
    _copy(reranker_dir, config.models_dir() / "ms-marco-TinyBERT-L-2-v2")
    with pytest.raises(ChecksumMismatch):
        load_reranker("ms-marco-TinyBERT-L-2-v2", threads=1, optimize=False)


def test_cuda_request_falls_back(reranker_dir: Path) -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("CUDA is available here")
    fallback = load_reranker(str(reranker_dir), threads=1, device="cuda", optimize=False)
    assert fallback.providers == ["CPUExecutionProvider"]
    assert fallback.warnings and "CUDA" in fallback.warnings[0]


# --- the optimised int8 copy ---------------------------------------------------------------


def _meta(model_path: Path) -> dict:
    return json.loads((model_path.parent / rerank_optimize.META_FILE).read_text(encoding="utf-8"))


def test_optimised_copy_is_built_and_used(reranker: Reranker, source_reranker: Reranker, built_home: Path) -> None:
    assert reranker.optimized and not source_reranker.optimized
    assert reranker.onnx_path.parent.parent == built_home / "cache" / "optimized"
    meta = _meta(reranker.onnx_path)
    assert meta["source_sha256"] == RANDOM_SHA and meta["recipe"] == rerank_optimize.RECIPE_VERSION
    assert meta["sha256"] == sha256_file(reranker.onnx_path)
    assert meta["spearman_to_source"] >= rerank_optimize.MIN_SPEARMAN
    assert reranker.model_id == source_reranker.model_id  # same model, for the library's records
    assert not any(reranker.onnx_path.parent.glob("*.tmp")) and not (reranker.onnx_path.parent / ".lock").exists()


def test_second_load_uses_the_cache(reranker: Reranker, reranker_dir: Path, built_home: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.HOME_ENV, str(built_home))
    before = reranker.onnx_path.stat()
    again = load_reranker(str(reranker_dir), threads=1)
    after = again.onnx_path.stat()
    assert again.optimized and again.onnx_path == reranker.onnx_path
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    np.testing.assert_array_equal(again.score(QUERY, PASSAGES), reranker.score(QUERY, PASSAGES))


@pytest.mark.slow
def test_optimised_copy_keeps_the_ranking(reranker: Reranker, source_reranker: Reranker) -> None:
    """Cranfield queries with their top 30 passages, windowed as search sends them."""
    work = workload(6)
    ours = [reranker.score(q, windows) for q, windows, _ in work]
    theirs = [source_reranker.score(q, windows) for q, windows, _ in work]
    rho, overlap = rerank_optimize.agreement(theirs, ours, 10)
    assert rho >= rerank_optimize.MIN_SPEARMAN and overlap >= 0.7
    unrelated = rerank_optimize.agreement(theirs, [s[::-1] for s in ours], 10)[0]
    assert unrelated < 0.5  # the measure does tell orders apart


@pytest.mark.slow
def test_damaged_copy_is_rebuilt(reranker: Reranker, reranker_dir: Path, built_home: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.HOME_ENV, str(built_home))
    path = reranker.onnx_path
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    path.write_bytes(bytes(data))
    assert sha256_file(path) != _meta(path)["sha256"]
    rebuilt = load_reranker(str(reranker_dir), threads=1)
    assert rebuilt.optimized and rebuilt.onnx_path == path
    assert sha256_file(path) == _meta(path)["sha256"]
    np.testing.assert_allclose(rebuilt.score(QUERY, PASSAGES), reranker.score(QUERY, PASSAGES), atol=1e-6)


@pytest.mark.slow
def test_refused_copy_leaves_the_source(reranker_dir: Path, tmp_path: Path) -> None:
    source = reranker_dir / "model.onnx"
    chosen = rerank_optimize.optimized_reranker_model(source, reranker_dir / "tokenizer.json", tmp_path,
                                                      min_spearman=1.01)
    assert chosen == source
    (folder,) = tmp_path.iterdir()
    assert "ranks differently" in _meta(folder / rerank_optimize.MODEL_FILE)["error"]
    assert not (folder / rerank_optimize.MODEL_FILE).exists()
    # The refusal is remembered: the next call answers at once, still with the source.
    assert rerank_optimize.optimized_reranker_model(source, reranker_dir / "tokenizer.json", tmp_path,
                                                    min_spearman=1.01) == source


def _bag_of_words_model(path: Path) -> None:
    """A valid cross-encoder-shaped ONNX file that is no BERT encoder: mean of token embeddings."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(size=(30522, 8)).astype(np.float32), "emb"),
             numpy_helper.from_array(rng.normal(size=(8, 1)).astype(np.float32), "head")]
    nodes = [helper.make_node("Gather", ["emb", "input_ids"], ["tokens"]),
             helper.make_node("ReduceMean", ["tokens"], ["pooled"], axes=[1], keepdims=0),
             helper.make_node("MatMul", ["pooled", "head"], ["logits"])]
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
              for n in ("input_ids", "attention_mask")]
    graph = helper.make_graph(nodes, "bag", inputs, [helper.make_tensor_value_info("logits", TensorProto.FLOAT,
                                                                                     ["batch", 1])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())


def test_model_the_recipe_cannot_take_falls_back(reranker_dir: Path, tmp_path: Path) -> None:
    folder = _copy(reranker_dir, tmp_path / "bag")
    _bag_of_words_model(folder / "model.onnx")
    loaded = load_reranker(str(folder), threads=1)
    assert not loaded.optimized and loaded.onnx_path == folder / "model.onnx"
    scores = loaded.score(QUERY, PASSAGES[:4])
    assert scores.shape == (4,) and np.isfinite(scores).all()
    (built,) = (p for p in (config.cache_dir() / "optimized").iterdir() if p.name.startswith("bag-"))
    assert "LayerNormalization" in _meta(built / rerank_optimize.MODEL_FILE)["error"]


def test_optimisation_can_be_turned_off(reranker_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(rerank_optimize.DISABLE_ENV, "0")
    loaded = load_reranker(str(reranker_dir), threads=1)
    assert not loaded.optimized and loaded.onnx_path == reranker_dir / "model.onnx"


@pytest.mark.slow
def test_batches_running_side_by_side_score_as_one_at_a_time(reranker_dir: Path) -> None:
    side_by_side = load_reranker(str(reranker_dir), threads=2)
    one_at_a_time = load_reranker(str(reranker_dir), threads=1)
    assert (side_by_side.workers, one_at_a_time.workers) == (2, 1)
    for batch_size in (1, 2, 7):
        np.testing.assert_allclose(side_by_side.score(QUERY, PASSAGES, batch_size=batch_size),
                                   one_at_a_time.score(QUERY, PASSAGES, batch_size=batch_size), atol=1e-5)
