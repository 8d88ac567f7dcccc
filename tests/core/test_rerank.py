"""The cross-encoder reranker on a RANDOM-weight model: plumbing, shape and determinism only.

The model's scores carry no meaning, so nothing here checks ranking quality.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from memex.core import config
from memex.core.errors import ChecksumMismatch, ModelError
from memex.core.models import installed_models, resolve_reranker
from memex.core.rerank import Reranker, load_reranker

RANDOM_SHA = "7d1792defda144ba7402fa0d6b7529b4af49f7c4e421345eb3b314b63d7efada"
QUERY = "when is the invoice due"
# Distinct token lengths, so length sorting gives the same batches whatever the input order.
PASSAGES = [("invoice due date payment " * n) + f"item {n}" for n in range(1, 24)]


@pytest.fixture(scope="module")
def reranker(reranker_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Reranker:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(config.HOME_ENV, str(tmp_path_factory.mktemp("reranker-home")))
        return load_reranker(str(reranker_dir), threads=2)


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


def test_input_order_is_preserved(reranker: Reranker) -> None:
    for batch_size in (1, 5, 16):
        forward = reranker.score(QUERY, PASSAGES, batch_size=batch_size)
        backward = reranker.score(QUERY, PASSAGES[::-1], batch_size=batch_size)
        np.testing.assert_array_equal(backward, forward[::-1])
    singles = np.array([reranker.score(QUERY, [p])[0] for p in PASSAGES], dtype=np.float32)
    np.testing.assert_array_equal(reranker.score(QUERY, PASSAGES, batch_size=1), singles)


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
    assert load_reranker(str(folder), threads=1).model_id.endswith(RANDOM_SHA[:12])
    data = bytearray((folder / "model.onnx").read_bytes())
    data[-4096:-4080] = bytes(b ^ 0x5A for b in data[-4096:-4080])
    (folder / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(ChecksumMismatch, match=str(folder / "model.onnx").replace("\\", ".")):
        load_reranker(str(folder), threads=1)


def test_catalogue_reranker_needs_its_folder(reranker_dir: Path) -> None:
    with pytest.raises(ModelError, match="not installed"):
        load_reranker("ms-marco-TinyBERT-L-2-v2")
    with pytest.raises(ModelError, match="is an embedder"):
        resolve_reranker("bge-small-en-v1.5")
    with pytest.raises(ModelError):
        load_reranker("")
    assert installed_models("reranker") == []
    _copy(reranker_dir, config.models_dir() / "ms-marco-TinyBERT-L-2-v2")
    assert [s.name for s in installed_models("reranker")] == ["ms-marco-TinyBERT-L-2-v2"]
    loaded = load_reranker("ms-marco-TinyBERT-L-2-v2", threads=1)
    assert loaded.model_id == "ms-marco-TinyBERT-L-2-v2"
    assert loaded.score(QUERY, PASSAGES[:3]).shape == (3,)


def test_cuda_request_falls_back(reranker_dir: Path) -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("CUDA is available here")
    fallback = load_reranker(str(reranker_dir), threads=1, device="cuda")
    assert fallback.providers == ["CPUExecutionProvider"]
    assert fallback.warnings and "CUDA" in fallback.warnings[0]
