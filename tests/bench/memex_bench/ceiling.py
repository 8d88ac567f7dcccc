"""The embedding speed the hardware allows: the int8 matrix-product rate measured on this
machine, and the multiply-accumulates a BERT-shaped encoder needs for a chunk of n tokens.

The rate comes from ONNX Runtime's own int8 kernel (``MatMulInteger``, uint8 × int8, the op
the quantised model's dense layers run) on a layer-sized product, one thread per worker, run
by as many threads side by side as the embedder uses. The ceiling for a set of chunks is that
rate divided by their mean multiply-accumulates: everything else (tokenizer, attention
softmax, layer norms, pooling, SQLite) counted as free.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

HIDDEN, FFN, LAYERS = 384, 1536, 6  # all-MiniLM-L6-v2


def macs_per_chunk(tokens: int, hidden: int = HIDDEN, ffn: int = FFN, layers: int = LAYERS) -> float:
    """Multiply-accumulates of one encoder pass over ``tokens`` tokens: Q, K, V and output
    projections (4·h²), the feed-forward pair (2·h·ffn) per token, and the attention scores
    and weighted sum (2·n·h) per token, in every layer."""
    per_token = 4 * hidden * hidden + 2 * hidden * ffn + 2 * tokens * hidden
    return float(layers * tokens * per_token)


def _matmul_model(path: Path, rows: int, inner: int, cols: int) -> None:
    import onnx
    from onnx import TensorProto, helper

    weights = np.random.default_rng(1).integers(-127, 127, size=(inner, cols), dtype=np.int8)
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b"], ["y"])], "macs",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [rows, inner])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [rows, cols])],
        [helper.make_tensor("b", TensorProto.INT8, [inner, cols], weights.tobytes(), raw=True)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


def int8_mac_rate(workers: int = 1, seconds: float = 2.0, rows: int = 256) -> float:
    """Multiply-accumulates per second of ONNX Runtime's int8 product on this machine, with
    ``workers`` single-threaded sessions running side by side (the CPU embedder's layout)."""
    from memex.core.models.onnx_session import ort

    with tempfile.TemporaryDirectory(prefix="memex-macs-") as tmp:
        path = Path(tmp) / "matmul.onnx"
        _matmul_model(path, rows, HIDDEN, FFN)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        a = np.random.default_rng(2).integers(0, 255, size=(rows, HIDDEN), dtype=np.uint8)
        for _ in range(3):
            session.run(None, {"a": a})

        def spin(deadline: float) -> int:
            runs = 0
            while time.perf_counter() < deadline:
                session.run(None, {"a": a})
                runs += 1
            return runs

        start = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            runs = sum(pool.map(spin, [start + seconds] * workers))
        elapsed = time.perf_counter() - start
    return runs * rows * HIDDEN * FFN / elapsed


def ceiling_chunks_per_s(token_counts: Sequence[int], mac_rate: float) -> float:
    """Chunks per second that ``mac_rate`` allows for chunks of these token counts."""
    if not token_counts:
        return 0.0
    mean = float(np.mean([macs_per_chunk(n) for n in token_counts]))
    return mac_rate / mean
