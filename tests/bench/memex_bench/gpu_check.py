"""Embedding on the GPU against the CPU, through Memex's own embedding code.

    python gpu_check.py MODEL_DIR N

MODEL_DIR holds ``model.onnx`` and ``tokenizer.json`` (e.g. shared/models/all-MiniLM-L6-v2).
Prints the execution providers this ONNX Runtime offers, embeds N real-ish chunks (~200
tokens of varied English, as the indexer cuts them) on the CPU and with CUDA at the batch
sizes the indexer uses for each, and prints the providers each session really used, chunks/s
for each, and the least cosine between a chunk's CUDA and CPU vectors. When CUDA is not
available, says why in one line and which provider ran instead (exit status 1).

Self-contained: runs from a checkout with only Memex's runtime dependencies (numpy,
tokenizers, platformdirs) and ``onnxruntime-gpu``; Memex itself need not be installed.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from pathlib import Path

WORDS = ("the a of and to in is was for on with by as at from flow wing pressure boundary layer heat "
         "transfer shock supersonic drag lift turbulent laminar plate cylinder nozzle velocity model "
         "theory experiment results method solution equation numerical analysis stress report meeting "
         "budget patient river storm village invoice payment account contract schedule").split()


def _import_memex() -> None:
    """Make ``memex.core`` importable from this checkout when Memex is not installed."""
    try:
        import memex.core  # noqa: F401
        return
    except ImportError:
        pass
    repo = Path(__file__).resolve().parents[3]
    shim = Path(tempfile.mkdtemp(prefix="memex-gpu-check-")) / "memex"
    shim.mkdir()
    for part in ("core", "resources"):
        (shim / part).symlink_to(repo / part, target_is_directory=True)
    sys.path.insert(0, str(shim.parent))


def chunks(n: int, seed: int = 11) -> list[str]:
    """``n`` chunk-like texts: sentences of varied length, most near the indexer's 200 tokens."""
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        words = rnd.randint(20, 170) if rnd.random() < 0.3 else rnd.randint(140, 175)
        sentences, left = [], words
        while left > 0:
            size = min(left, rnd.randint(6, 22))
            sentences.append(" ".join(rnd.choice(WORDS) for _ in range(size)).capitalize() + ".")
            left -= size
        out.append(" ".join(sentences))
    return out


def timed(embedder, texts: list[str], batch_size: int):  # noqa: ANN001, ANN201
    embedder.embed_documents(texts[:batch_size], batch_size=batch_size)  # warm-up (CUDA kernels, arenas)
    started = time.perf_counter()
    vectors = embedder.embed_documents(texts, batch_size=batch_size)
    return vectors, len(texts) / (time.perf_counter() - started)


def main(argv: list[str]) -> int:
    if len(argv) != 3 or not argv[2].isdigit():
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    model_dir, n = Path(argv[1]).resolve(), int(argv[2])
    os.environ.setdefault("MEMEX_HOME", tempfile.mkdtemp(prefix="memex-gpu-home-"))
    _import_memex()
    from memex.core.models.embedding import load_embedder
    from memex.core.models.model_set import embed_batch_size
    from memex.core.models.onnx_session import installed_runtimes, ort

    print(f"onnxruntime {ort.__version__} ({', '.join(installed_runtimes()) or 'package unknown'})")
    print(f"providers offered: {', '.join(ort.get_available_providers())}")
    texts = chunks(n)
    cpu = load_embedder(str(model_dir), device="cpu")
    cpu_vectors, cpu_rate = timed(cpu, texts, embed_batch_size(cpu))
    print(f"CPU : providers used {cpu.providers}, batch {embed_batch_size(cpu)}, "
          f"{cpu.workers} worker(s): {cpu_rate:,.1f} chunks/s")
    gpu = load_embedder(str(model_dir), device="cuda")
    for warning in gpu.warnings:
        print(f"CUDA: {warning}")
    if "CUDAExecutionProvider" not in gpu.providers:
        print(f"CUDA: not used; the session runs on {gpu.providers}")
        return 1
    gpu_vectors, gpu_rate = timed(gpu, texts, embed_batch_size(gpu))
    cosines = (gpu_vectors * cpu_vectors).sum(axis=1)
    print(f"CUDA: providers used {gpu.providers}, batch {embed_batch_size(gpu)}: {gpu_rate:,.1f} chunks/s "
          f"({gpu_rate / cpu_rate:,.1f}x the CPU)")
    print(f"cosine CUDA vs CPU over {n} chunks: min {cosines.min():.5f}, mean {cosines.mean():.5f}")
    return 0 if cosines.min() >= 0.99 else 3


if __name__ == "__main__":
    sys.exit(main(sys.argv))
