"""``memex bench embed``'s profile of the embedder: ONNX Runtime's own op timings, grouped, and
the work each group did counted from the shapes actually run."""

from __future__ import annotations

import pytest

pytest.importorskip("memex_bench")

from memex_bench import embed_profile  # noqa: E402
from memex_bench.ceiling import FFN, HIDDEN, LAYERS  # noqa: E402


def test_the_work_of_each_group_is_counted_from_the_padded_shapes():
    work = embed_profile.macs([(4, 10), (2, 30)])
    tokens, pairs = 4 * 10 + 2 * 30, 4 * 100 + 2 * 900
    products = work[embed_profile.GROUPS["DynamicQuantizeMatMul"]]
    attention = work[embed_profile.GROUPS["QAttention"]]
    assert products == LAYERS * tokens * (HIDDEN * HIDDEN + 2 * HIDDEN * FFN)
    assert attention == LAYERS * (tokens * 3 * HIDDEN * HIDDEN + 2 * pairs * HIDDEN)


def test_the_optimised_model_is_profiled_op_by_op(embedder):
    texts = [f"boundary layer {i} " * (3 + i) for i in range(9)]
    found = embed_profile.profile(embedder.onnx_path, texts, batch_size=4)
    assert [rows for rows, _ in found["padded"]] == [4, 4, 1]  # the app's batches, longest first
    groups = found["seconds"]
    assert set(embed_profile.GROUPS.values()) <= set(groups)  # the optimised graph's fused ops
    assert all(seconds > 0 for seconds in groups.values())
    assert 0 < sum(groups.values()) <= found["model_s"] * 1.05
