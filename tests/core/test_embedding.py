"""The embedder, model resolution and checksums, on real models (nothing is mocked)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from memex.core import config
from memex.core.errors import ChecksumMismatch, ModelError
from memex.core.models.catalogue import (
    DEFAULT_EMBEDDER,
    catalogue,
    get_spec,
    installed_models,
)
from memex.core.models.checksums import sha256_file, verify_sha256
from memex.core.models.embedding import Embedder, load_embedder
from memex.core.models.onnx_session import available_devices, create_session
from memex.core.models.resolve import resolve_embedder

DEFAULT_SHA = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
FP32_SHA = "6960c6b2980e83a814c09638b4c12e5ac1e8b0f9340729784ea2ccdd0e999c45"

SENTENCES = [
    "The quarterly report shows revenue grew by twelve percent.",
    "How do I reset my router password?",
    "Photosynthesis converts light energy into chemical energy in plants.",
    "Der Zug nach Berlin fährt um acht Uhr ab.",
    "Invoice #4471 is due on 3 March; please pay by bank transfer.",
    "a",
]


@pytest.fixture(scope="module")
def fp32(fp32_embedder_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    """The fp32 reference model, opened by folder path (under its own MEMEX_HOME)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(config.HOME_ENV, str(tmp_path_factory.mktemp("fp32-home")))
        return load_embedder(str(fp32_embedder_dir), threads=2)


def _model_folder(dst: Path, embedder: Embedder, extra: dict | None = None) -> Path:
    """A user model folder holding a copy of the default int8 model and its tokenizer."""
    model = resolve_embedder(None)
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model.onnx_path, dst / "model.onnx")
    shutil.copyfile(model.tokenizer_path, dst / "tokenizer.json")
    if extra is not None:
        (dst / "memex-model.json").write_text(json.dumps(extra), encoding="utf-8")
    return dst


def _same_vectors(a: np.ndarray, b: np.ndarray) -> None:
    """The same vectors up to quantisation: the default embedder runs from its optimised copy,
    a folder holding the PyPI file runs that file."""
    assert np.atleast_2d((a * b).sum(axis=-1)).min() >= 0.995


def _flip_bytes(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    for i in range(offset, offset + 16):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def test_default_embedder_is_verified_and_offline(embedder: Embedder) -> None:
    assert embedder.model_id == DEFAULT_EMBEDDER
    assert embedder.dim == 384 and embedder.max_tokens == 256
    assert embedder.providers == ["CPUExecutionProvider"] and embedder.warnings == []
    model = resolve_embedder("default")
    assert model.sha256 == DEFAULT_SHA == get_spec(DEFAULT_EMBEDDER).sha256
    assert sha256_file(model.onnx_path) == DEFAULT_SHA
    assert model.tokenizer_path.name == "bert-uncased-tokenizer.json"
    assert [s.name for s in installed_models("embedder")] == [DEFAULT_EMBEDDER]


def test_checksum_cache_is_consulted() -> None:
    model = resolve_embedder(None)
    cache_file = config.cache_dir() / "model-checksums.json"
    cache = json.loads(cache_file.read_text(encoding="utf-8"))
    entry = cache[str(model.onnx_path.resolve())]
    assert entry["sha256"] == DEFAULT_SHA and entry["size"] == model.onnx_path.stat().st_size
    # A cached answer is trusted while size and mtime match, so a wrong one is refused...
    entry["sha256"] = "0" * 64
    cache_file.write_text(json.dumps(cache), encoding="utf-8")
    with pytest.raises(ChecksumMismatch):
        resolve_embedder(None)
    # ...and a file whose mtime changed is hashed again.
    entry["mtime_ns"] -= 1
    cache_file.write_text(json.dumps(cache), encoding="utf-8")
    assert resolve_embedder(None).sha256 == DEFAULT_SHA


def test_tampered_model_copy_is_refused(tmp_path: Path, embedder: Embedder) -> None:
    folder = _model_folder(tmp_path / "pinned", embedder, {"sha256": DEFAULT_SHA})
    good = load_embedder(str(folder), threads=1)
    assert good.model_id == f"local:pinned:{DEFAULT_SHA[:12]}"
    _same_vectors(good.embed_documents(SENTENCES[:2]), embedder.embed_documents(SENTENCES[:2]))
    _flip_bytes(folder / "model.onnx", 1_000_000)  # after a successful (cached) load
    with pytest.raises(ChecksumMismatch, match="does not match its pinned checksum"):
        load_embedder(str(folder), threads=1)
    with pytest.raises(ChecksumMismatch):
        verify_sha256(folder / "model.onnx", DEFAULT_SHA, use_cache=False)


def test_catalogue_models_need_their_folder(tmp_path: Path, embedder: Embedder) -> None:
    names = {s.name: s for s in catalogue()}
    assert {
        "bge-small-en-v1.5",
        "multilingual-e5-small",
        "ms-marco-MiniLM-L-6-v2",
        "ms-marco-TinyBERT-L-2-v2",
        "jina-reranker-v1-tiny-en",
        "bge-reranker-base",
    } <= set(names)
    assert names["bge-small-en-v1.5"].pooling == "cls"
    assert names["multilingual-e5-small"].query_prefix == "query: "
    with pytest.raises(ModelError, match="not installed"):
        load_embedder("multilingual-e5-small")
    with pytest.raises(ModelError, match="is a reranker"):
        load_embedder("ms-marco-MiniLM-L-6-v2")
    with pytest.raises(ModelError, match="no folder"):
        load_embedder(str(tmp_path / "nowhere"))
    with pytest.raises(ModelError, match="needs model.onnx"):
        load_embedder(str(tmp_path))
    # Files put in a catalogue model's folder by hand must be the files the catalogue pins.
    _model_folder(config.models_dir() / "multilingual-e5-small", embedder)
    with pytest.raises(ChecksumMismatch, match="pinned checksum"):
        load_embedder("multilingual-e5-small")


def test_int8_default_matches_fp32_reference(embedder: Embedder, fp32: Embedder) -> None:
    assert fp32.model_id == f"local:all-MiniLM-L6-v2:{FP32_SHA[:12]}"
    assert (fp32.pooling, fp32.max_tokens, fp32.dim) == ("mean", 256, 384)  # from ST configs
    cosines = (embedder.embed_documents(SENTENCES) * fp32.embed_documents(SENTENCES)).sum(axis=1)
    assert cosines.min() >= 0.99, cosines


def test_vectors_are_unit_length_and_in_input_order(embedder: Embedder) -> None:
    texts = [("word " * n) + str(n) for n in (3, 150, 1, 60, 300, 12, 90, 7)]
    batched = embedder.embed_documents(texts, batch_size=3)
    assert batched.shape == (len(texts), 384) and batched.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    # Activations are quantised per batch, so a text's vector moves a little with its batch mates:
    # the same text must stay near-identical and nearest to itself, in input order.
    one_by_one = np.stack([embedder.embed_documents([t])[0] for t in texts])
    reversed_ = embedder.embed_documents(texts[::-1], batch_size=3)[::-1]
    for other in (one_by_one, reversed_):
        similarity = batched @ other.T
        assert np.diag(similarity).min() >= 0.995
        assert (similarity.argmax(axis=1) == np.arange(len(texts))).all()


def test_fp32_batching_is_exact(fp32: Embedder) -> None:
    texts = SENTENCES + ["lorem ipsum " * 40]
    one_by_one = np.stack([fp32.embed_documents([t])[0] for t in texts])
    np.testing.assert_allclose(fp32.embed_documents(texts, batch_size=4), one_by_one, atol=1e-5)


def test_paraphrase_is_closer_than_unrelated(embedder: Embedder) -> None:
    query = embedder.embed_query("How can I change the password of my wifi router?")
    docs = embedder.embed_documents(
        [
            "Steps to reset the wireless router's admin password.",
            "The recipe calls for two cups of flour and an egg.",
        ]
    )
    assert query.shape == (384,) and abs(float(np.linalg.norm(query)) - 1.0) < 1e-5
    related, unrelated = docs @ query
    assert related > unrelated + 0.2


def test_long_text_is_truncated(embedder: Embedder) -> None:
    long_text = "memex " * 5000
    assert len(embedder.tokenizer.encode(long_text).ids) > 5000  # counting is not truncated
    assert embedder.tokenizer.truncation is None and embedder.tokenizer.padding is None
    vectors = embedder.embed_documents([long_text, "memex " * 300, "short"])
    assert vectors.shape == (3, 384) and np.isfinite(vectors).all()
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-6)  # both cut at 256 tokens


def test_empty_input(embedder: Embedder) -> None:
    empty = embedder.embed_documents([])
    assert empty.shape == (0, 384) and empty.dtype == np.float32
    assert embedder.embed_documents([""]).shape == (1, 384)
    with pytest.raises(ValueError):
        embedder.embed_documents(["x"], batch_size=0)


def test_prefixes_and_cls_pooling_from_memex_model_json(tmp_path: Path, embedder: Embedder) -> None:
    spec = {"query_prefix": "query: ", "passage_prefix": "passage: ", "max_tokens": 128}
    prefixed = load_embedder(str(_model_folder(tmp_path / "e5ish", embedder, spec)), threads=1)
    assert prefixed.max_tokens == 128
    _same_vectors(prefixed.embed_query("apple pie"), embedder.embed_documents(["query: apple pie"])[0])
    _same_vectors(prefixed.embed_documents(["apple pie"]), embedder.embed_documents(["passage: apple pie"]))
    assert float(prefixed.embed_query("apple pie") @ prefixed.embed_documents(["apple pie"])[0]) < 0.995
    cls = load_embedder(str(_model_folder(tmp_path / "cls", embedder, {"pooling": "cls"})))
    vector = cls.embed_documents(["apple pie"])[0]
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
    assert float(vector @ embedder.embed_documents(["apple pie"])[0]) < 0.999
    (tmp_path / "cls" / "memex-model.json").write_text('{"pooling": "max"}', encoding="utf-8")
    with pytest.raises(ModelError, match="pooling"):
        load_embedder(str(tmp_path / "cls"))


def test_cuda_request_falls_back_to_cpu_with_a_warning() -> None:
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("CUDA is available here")
    fallback = load_embedder(None, threads=1, device="cuda")
    assert fallback.providers == ["CPUExecutionProvider"]
    assert fallback.warnings == ["CUDA was requested but is not available; running on CPU"]
    assert fallback.embed_query("still works").shape == (384,)


def test_session_options_and_devices() -> None:
    assert available_devices()[0] == "cpu"
    path = resolve_embedder(None).onnx_path
    session, warnings = create_session(path, threads=1, device="auto")
    assert session.get_providers()[-1] == "CPUExecutionProvider" and warnings == []
    _, warnings = create_session(path, threads=1, device="tpu")
    assert warnings and "Unknown device" in warnings[0]
    with pytest.raises(ModelError, match="could not be loaded|cannot be checked"):
        create_session(Path(__file__), threads=1, device="cpu")


def test_batches_running_side_by_side_embed_as_one_at_a_time(embedder: Embedder) -> None:
    """On the CPU the session has one thread and batches run ``workers`` at a time; a few texts
    are shared out between the workers. Every way gives the same vectors, in input order."""
    one_at_a_time = Embedder(resolve_embedder(None), embedder.session, workers=1)
    assert embedder.workers == 2 and embedder.session.get_session_options().intra_op_num_threads == 1
    texts = [f"note {i}: " + "tidal harbour ledger " * (1 + 7 * i % 40) for i in range(13)]
    for batch_size in (1, 4):
        np.testing.assert_allclose(embedder.embed_documents(texts, batch_size=batch_size),
                                   one_at_a_time.embed_documents(texts, batch_size=batch_size), atol=1e-5)
    # One batch of 13 is split 7 + 6 for the two workers. Activations are quantized per batch, so
    # vectors depend on which texts share a batch: the same split gives the same vectors, and
    # any split the same meaning.
    shared_out = embedder.embed_documents(texts, batch_size=32)
    np.testing.assert_allclose(shared_out, one_at_a_time.embed_documents(texts, batch_size=7), atol=1e-5)
    _same_vectors(shared_out, one_at_a_time.embed_documents(texts, batch_size=32))
    np.testing.assert_allclose(embedder.embed_query("tidal"), one_at_a_time.embed_query("tidal"), atol=1e-5)
