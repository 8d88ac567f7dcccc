"""The optimised copy of the default embedder: built from the installed int8 file, cached, checked
against the fp32 reference, and never in the way when something is wrong."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from memex.core.library import EMBED_BATCH_SIZE
from memex.core.models.embedding import Embedder, load_embedder
from memex.core.models.onnx_session import runs_on_cpu
from memex.core.models.optimize import optimized_default_model
from memex.core.models.resolve import resolve_embedder

pytestmark = pytest.mark.slow  # builds and checks model copies: tens of seconds

TEXTS = [
    "a",
    "How do I reset my router password?",
    "boundary layer transition at supersonic speeds",
    "Invoice #4471 is due on 3 March 2024; please pay by bank transfer.",
    "Der Zug nach Berlin fährt um acht Uhr ab, und der nächste eine Stunde später.",
    "def parse(path):\n    return json.loads(open(path).read())",
    "résumé naïve café — ½ 3.14159 ∑ x² ≤ 10 ✓ 日本語のテキスト",
    "The committee met on Tuesday. " * 40,  # longer than the model's 256 tokens
]


def _corpus_texts(shared_dir: Path, n: int) -> list[str]:
    rows = (shared_dir / "eval" / "cranfield" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:n]
    return [f"{r['title']}. {r['text']}" for r in map(json.loads, rows)]


@pytest.fixture(scope="module")
def optimised(optimized_models_cache: Path) -> Path:
    return optimized_default_model(resolve_embedder(None).onnx_path, optimized_models_cache,
                                   resolve_embedder(None).tokenizer_path)


def test_optimised_copy_is_built_and_used_on_cpu(optimised: Path) -> None:
    source = resolve_embedder(None).onnx_path
    assert optimised != source and optimised.is_file()
    meta = json.loads((optimised.parent / "build.json").read_text())
    assert meta["min_cosine_to_source"] >= 0.99
    assert runs_on_cpu("cpu")
    embedder = load_embedder(None, threads=2)
    assert embedder.model_id == resolve_embedder(None).model_id  # same vectors space as the original file
    assert embedder.onnx_path.resolve() == optimised.resolve()


def test_every_vector_stays_within_cosine_099_of_fp32(embedder: Embedder, fp32_embedder_dir: Path,
                                                       shared_dir: Path) -> None:
    fp32 = load_embedder(str(fp32_embedder_dir), threads=2)
    texts = TEXTS + _corpus_texts(shared_dir, 48)
    for batch_size in (1, 8):
        ours, reference = embedder.embed_documents(texts, batch_size=batch_size), fp32.embed_documents(texts)
        cosines = (ours * reference).sum(axis=1)
        assert cosines.min() >= 0.99, (batch_size, texts[int(cosines.argmin())][:60], cosines.min())
    queries = [json.loads(line)["text"] for line in
               (shared_dir / "eval" / "cranfield" / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    queries += ["a", "cat", "budget risk", "invoice 4471"]  # the shortest queries are the hardest to quantise
    cosines = [float(embedder.embed_query(q) @ fp32.embed_query(q)) for q in queries]
    assert min(cosines) >= 0.99, queries[cosines.index(min(cosines))]


def test_cached_copy_is_reused_and_a_damaged_one_rebuilt(tmp_path: Path) -> None:
    model = resolve_embedder(None)
    first = optimized_default_model(model.onnx_path, tmp_path, model.tokenizer_path)
    stamp = first.stat().st_mtime_ns
    assert optimized_default_model(model.onnx_path, tmp_path, model.tokenizer_path) == first
    assert first.stat().st_mtime_ns == stamp  # not rebuilt
    with open(first, "r+b") as fh:  # flip bytes in the middle of the file
        fh.seek(first.stat().st_size // 2)
        fh.write(b"\x00" * 64)
    again = optimized_default_model(model.onnx_path, tmp_path, model.tokenizer_path)
    assert again == first and json.loads((first.parent / "build.json").read_text())["sha256"]
    assert load_embedder(None, threads=1).embed_query("still works").shape == (384,)


def test_a_source_it_cannot_read_falls_back_to_the_source(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                           fp32_embedder_dir: Path) -> None:
    broken = tmp_path / "broken" / "model.onnx"
    broken.parent.mkdir()
    broken.write_bytes(b"not an onnx file")
    with caplog.at_level(logging.WARNING):
        assert optimized_default_model(broken, tmp_path / "cache") == broken
    assert "optimised copy is unavailable" in caplog.text
    # An fp32 graph is not the int8 layout the recipe reads: refused the same way, and the
    # failure is remembered so it is not retried on every start.
    fp32 = fp32_embedder_dir / "model.onnx"
    assert optimized_default_model(fp32, tmp_path / "cache") == fp32
    assert "earlier build failed" not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert optimized_default_model(fp32, tmp_path / "cache") == fp32
    assert "earlier build failed" in caplog.text


def test_it_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMEX_OPTIMIZE_MODELS", "0")
    embedder = load_embedder(None, threads=1)
    assert embedder.onnx_path == resolve_embedder(None).onnx_path


def test_embedding_bench_prints_speed_and_accuracy_against_fp32(shared_dir: Path, tmp_path: Path) -> None:
    from memex_bench import embed

    texts = tmp_path / "texts.txt"
    texts.write_text("\n\n".join(_corpus_texts(shared_dir, 60)), encoding="utf-8")
    rows = embed.run(texts, seconds=0, threads=1, max_chunks=16, chunk_tokens=62, batch_size=8)
    names = [r["model"] for r in rows if "chunks_per_s" in r]
    app_way = f"as the app indexes (batches of {EMBED_BATCH_SIZE}, 1 at a time)"
    assert names == ["fp32 reference", f"fp32 reference, {app_way}", "PyPI int8 (original)", "optimised default",
                     f"optimised default, {app_way}"]
    table = embed.table_rows(rows)
    assert [r.figure.split(" (")[0] for r in table][::2] == [
        "embedding, fp32 reference, as the app indexes", "embedding, PyPI int8", "embedding, optimised default",
        "embedding, optimised default, as the app indexes"]
    assert all(r.baseline == "fp32 reference" and r.baseline_value for r in table)
    assert table[-1].value >= 0.99 and table[-1].ok is True  # min cosine of the optimised copy as the app runs it
    assert table[-2].target and not table[-4].target  # the target is judged on what indexing gets
    assert "optimised default" in embed.format_table(rows)
