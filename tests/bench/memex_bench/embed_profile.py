"""Where the embedder's time goes, op by op: ONNX Runtime's own profile of the optimised model
on one thread, grouped into the int8 products, the attention, GELU and the rest, with the rate
each reaches against the int8 matrix-product rate measured on this machine (:mod:`.ceiling`).

Tokenising, padding and pooling happen outside the model; the indexing rows show how much of a
run they take (model time against wall time)."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .ceiling import FFN, HIDDEN, LAYERS, int8_mac_rate
from .table import Row

GROUPS = {
    "DynamicQuantizeMatMul": "int8 products (attention output, feed-forward)",
    "DynamicQuantizeLinear": "int8 products (attention output, feed-forward)",
    "QAttention": "attention (int8 Q/K/V product, then scores, softmax, weighted sum in fp32)",
    "BiasGelu": "GELU",
}
OTHER = "layer norms, residual sums, embeddings, outlier channels"


def profile(model_path: Path, texts: Sequence[str], batch_size: int) -> dict:
    """Kernel seconds by op group, and the tokens each batch ran (padded), for ``texts`` run
    ``batch_size`` at a time on one thread, as one worker of the app runs them."""
    from memex.core.models.embedding import BatchFeeder, load_tokenizer, pad_token_id, token_budget_batches
    from memex.core.models.onnx_session import ort
    from memex.core.models.resolve import resolve_embedder

    model = resolve_embedder(None)
    tokenizer = load_tokenizer(model.tokenizer_path)
    tokenizer.enable_truncation(max_length=model.max_tokens)
    with tempfile.TemporaryDirectory(prefix="memex-profile-") as tmp:
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(tmp) / "run")
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        feeder = BatchFeeder(session, pad_token_id(tokenizer))
        encodings = tokenizer.encode_batch(list(texts))
        padded: list[tuple[int, int]] = []  # (rows, width) of each run
        for batch in token_budget_batches(encodings, batch_size * model.max_tokens, batch_size):
            feed = feeder.feed([encodings[i] for i in batch])
            session.run(None, feed)
            padded.append(feed["input_ids"].shape)
        events = json.loads(Path(session.end_profiling()).read_text(encoding="utf-8"))
    seconds: Counter[str] = Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            seconds[GROUPS.get(event["args"]["op_name"], OTHER)] += event["dur"] / 1e6
    model_s = sum(e["dur"] for e in events if e.get("name") == "model_run") / 1e6
    return {"seconds": dict(seconds), "model_s": model_s, "padded": padded}


def macs(padded: Sequence[tuple[int, int]]) -> dict[str, float]:
    """Multiply-accumulates of each group over the runs' padded shapes (what the kernels did)."""
    tokens = sum(rows * width for rows, width in padded)
    scores = sum(rows * width * width for rows, width in padded)  # token pairs, per layer
    return {GROUPS["DynamicQuantizeMatMul"]: LAYERS * tokens * (HIDDEN * HIDDEN + 2 * HIDDEN * FFN),
            GROUPS["QAttention"]: LAYERS * (tokens * 3 * HIDDEN * HIDDEN + 2 * scores * HIDDEN)}


def rows(model_path: Path, texts: Sequence[str], batch_size: int) -> list[Row]:
    """The profile as bench rows: each group's share of the model's time and its MAC rate
    against one thread's int8 rate."""
    found = profile(model_path, texts, batch_size)
    rate = int8_mac_rate(1)
    work = macs(found["padded"])
    kernel_s = sum(found["seconds"].values())
    mean_width = float(np.mean([w for _, w in found["padded"]]))
    out = [Row(f"model time, one thread ({len(texts)} chunks, batches of {batch_size}, mean {mean_width:.0f} "
               "tokens padded)", found["model_s"], "s", "", "int8 rate, one thread (GMAC/s)", rate / 1e9)]
    for group, seconds in sorted(found["seconds"].items(), key=lambda item: -item[1]):
        out.append(Row(f"  … {group}: share of the model's time", 100 * seconds / kernel_s, "%"))
        if group in work:
            out.append(Row(f"  … {group}: GMAC/s", work[group] / seconds / 1e9, "GMAC/s", "",
                           "int8 rate, one thread", rate / 1e9))
    return out


PROFILE_TEXTS = 400


def suite_rows(measured: list[dict]) -> list[Row]:
    """The profile of the optimised model ``embed.run`` measured, on real documents (Cranfield's
    abstracts when the shared data is there) in the app's batches."""
    from memex.core.library import EMBED_BATCH_SIZE

    from . import embed

    optimised = next((r for r in measured if r.get("model") == "optimised default"), None)
    source = embed.default_texts()
    if optimised is None:
        return []
    texts = embed._read_texts(source)[:PROFILE_TEXTS] if source else embed._generated(PROFILE_TEXTS * 150)[:1]
    return rows(Path(optimised["file"]), texts, EMBED_BATCH_SIZE)
