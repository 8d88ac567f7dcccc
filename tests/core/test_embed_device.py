"""The GPU path on a machine without one: CUDA asked for and missing is said in one line when
indexing, the run goes on on the CPU at the CPU's batch size, and the accelerator's token-budget
batches are checked as a pure function."""

from __future__ import annotations

import os
import sys
import threading

import onnxruntime as ort
import pytest
from memex.core.cli.main import main
from memex.core.config import Settings
from memex.core.models.embedding import BACKGROUND_NICENESS, token_budget_batches
from memex.core.models.model_set import EMBED_BATCH_SIZE, GPU_EMBED_BATCH_SIZE, embed_batch_size

FALLBACK = "CUDA was requested but is not available; running on CPU"
no_cuda = pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(),
                             reason="CUDA is available here, so a request for it does not fall back")


@no_cuda
def test_indexing_with_cuda_asked_for_and_missing_says_so_and_runs_on_the_cpu(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MEMEX_OPTIMIZE_MODELS", "0")
    Settings(device="cuda").save()
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("The harbour ledger lists every ferry crossing.", encoding="utf-8")
    assert main(["index", str(folder), "--library", str(tmp_path / "lib.db")]) == 0
    captured = capsys.readouterr()
    assert f"Note: {FALLBACK}." in captured.err.splitlines()
    assert "1 added" in captured.out and "1 embedded" in captured.out


class _Device:
    """What ``embed_batch_size`` reads of a model: the providers its session runs on."""

    def __init__(self, providers: list[str]) -> None:
        self.providers = providers
        self.warnings: list[str] = []


def test_batch_sizes_follow_the_provider_the_session_really_uses(embedder):
    assert embedder.providers == ["CPUExecutionProvider"] and not embedder.on_accelerator
    assert embed_batch_size(embedder) == EMBED_BATCH_SIZE
    assert embed_batch_size(_Device(["CUDAExecutionProvider", "CPUExecutionProvider"])) == GPU_EMBED_BATCH_SIZE
    assert embed_batch_size(_Device(["CPUExecutionProvider"])) == EMBED_BATCH_SIZE  # CUDA dropped: CPU sizes


class _Enc:
    def __init__(self, n: int) -> None:
        self.ids = [0] * n


def test_token_budget_batches_pack_short_texts_and_keep_long_ones_few():
    lengths = [256, 30, 256, 12, 200, 31, 29, 28, 256, 12, 5, 40]
    encodings = [_Enc(n) for n in lengths]
    batches = token_budget_batches(encodings, token_budget=2 * 256, max_rows=6)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))  # each text once
    for batch in batches:
        widths = [lengths[i] for i in batch]
        assert widths == sorted(widths, reverse=True)  # the longest first: its width pads the rest
        assert len(batch) <= 6 and (len(batch) == 1 or len(batch) * widths[0] <= 2 * 256)
    # 256+256, 256+200 (padded to 256), then the short ones six at a time (max_rows), then the rest
    assert [len(b) for b in batches] == [2, 2, 6, 2]
    with pytest.raises(ValueError):
        token_budget_batches(encodings, 0, 4)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priority is Linux's")
def test_document_batches_run_below_the_priority_of_searches(embedder):
    """Indexing never takes the CPU ahead of a search: document batches run in lower-priority
    threads, a query on its caller's own thread."""
    embedder.embed_documents(["harbour ledger"] * 8, batch_size=1)  # several batches: the pool runs them
    pool = embedder._pool
    assert pool is not None
    worker = pool.submit(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())).result()
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert worker >= min(19, own + BACKGROUND_NICENESS)
    embedder.embed_query("harbour")
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own
