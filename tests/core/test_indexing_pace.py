"""Words before meaning: every file searchable by words before vectors beyond the first batches,
vectors newest file first, repeated texts embedded once, and progress that predicts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from embedder_spy import RecordingEmbedder
from memex.core.cli import output
from memex.core.indexing import meaning
from memex.core.indexing.meaning import VectorCache
from memex.core.indexing.pace import Pace
from memex.core.indexing.reading import GROUP_FILES, reading_groups
from memex.core.indexing.scan import DiskFile
from memex.core.types import IndexProgress

WORDS = ("harbour ledger tide lantern orchard quarry meadow ferry granary cobbler thimble "
         "parchment tannery beacon chisel anvil furnace spindle loom kiln").split()


def _write_notes(folder: Path, files: int, paragraphs: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        body = "\n\n".join(" ".join(WORDS[(i + p + w) % len(WORDS)] for w in range(120)) + f" note{i}x{p}."
                           for p in range(paragraphs))
        (folder / f"note{i:03}.txt").write_text(f"Note {i} marker{i}word.\n\n{body}\n", encoding="utf-8")


def test_every_file_is_searchable_by_words_before_vectors_beyond_the_first_batches(
        tmp_path, open_library, monkeypatch):
    monkeypatch.setattr(meaning, "EARLY_CHUNKS", 8)
    monkeypatch.setattr(meaning, "EARLY_BATCH", 8)
    monkeypatch.setattr(meaning, "EARLY_AFTER_S", 0.0)
    _write_notes(tmp_path / "notes", files=24, paragraphs=3)
    lib = open_library()
    seen: list[IndexProgress] = []
    report = lib.index([tmp_path / "notes"], progress=seen.append)
    assert report.added == 24 and report.chunks > 40 and report.embedded == report.chunks
    reading = [p for p in seen if p.files_total and p.files_done < p.files_total]
    assert reading and max(p.chunks_embedded for p in reading) <= 8
    all_read = next(p for p in seen if p.files_total and p.files_done == p.files_total)
    assert all_read.chunks_written == report.chunks and all_read.chunks_embedded <= 8
    assert lib.status().chunks_pending == 0
    assert lib.search("marker23word", mode="bm25", rerank=False)


def test_a_short_reading_embeds_nothing_before_every_file_is_searchable(tmp_path, open_library, monkeypatch):
    monkeypatch.setattr(meaning, "EARLY_AFTER_S", 3600.0)
    _write_notes(tmp_path / "notes", files=24, paragraphs=3)
    lib = open_library()
    seen: list[IndexProgress] = []
    report = lib.index([tmp_path / "notes"], progress=seen.append)
    assert report.embedded == report.chunks > meaning.EARLY_CHUNKS
    all_read = next(p for p in seen if p.files_total and p.files_done == p.files_total)
    assert all_read.chunks_written == report.chunks and all_read.chunks_embedded == 0


def test_vectors_come_newest_file_first_after_the_words(tmp_path, open_library, embedder, monkeypatch):
    monkeypatch.setattr(meaning, "EARLY_CHUNKS", 0)
    folder = tmp_path / "notes"
    _write_notes(folder, files=6, paragraphs=1)
    for age, path in enumerate(sorted(folder.iterdir())):  # note000 is the newest
        stamp = 1_700_000_000 - age * 86_400
        import os

        os.utime(path, (stamp, stamp))
    spy = RecordingEmbedder(embedder)
    lib = open_library(embedder=spy)
    lib.index([folder])
    firsts = [next(i for i, t in enumerate(spy.asked) if f"note{n}x0" in t) for n in range(6)]
    assert firsts == sorted(firsts)  # note0 (newest) first … note5 (oldest) last


def test_a_text_repeated_across_files_is_embedded_once(tmp_path, open_library, embedder):
    licence = ("Permission is hereby granted, free of charge, to any person obtaining a copy of this "
               "software and associated documentation files, to deal in the software without restriction.")
    folder = tmp_path / "src"
    folder.mkdir()
    for i in range(5):
        # A header of ~130 tokens ending at a paragraph break: the first chunk of every file.
        (folder / f"mod{i}.txt").write_text(f"{licence} " * 4 + f"{licence}\n\n"
                                            + " ".join(WORDS[i:] * 30) + f" unique{i}.\n", encoding="utf-8")
    spy = RecordingEmbedder(embedder)
    lib = open_library(embedder=spy)
    report = lib.index([folder])
    assert report.embedded == report.chunks and lib.status().chunks_pending == 0
    header = f"{licence} " * 4 + licence
    assert sum(1 for t in spy.asked if t == header) == 1
    hits = lib.search("permission granted free of charge", mode="dense", rerank=False, k=10)
    assert len({h.path for h in hits}) == 5  # every copy has its vector


def test_vector_cache_embeds_each_distinct_text_once_and_keeps_order(embedder):
    calls: list[list[str]] = []

    def embed(texts: Sequence[str]) -> np.ndarray:
        calls.append(list(texts))
        return embedder.embed_documents(texts, batch_size=4)

    cache = VectorCache(entries=3)
    texts = ["alpha harbour", "beta ledger", "alpha harbour", "gamma tide"]
    first = cache.embed(embed, texts)
    assert calls == [["alpha harbour", "beta ledger", "gamma tide"]]
    np.testing.assert_array_equal(first[0], first[2])
    second = cache.embed(embed, ["gamma tide", "delta lantern", "beta ledger"])
    assert calls[1] == ["delta lantern"] and cache.hits == 3
    np.testing.assert_array_equal(second[0], first[3])
    cache.embed(embed, ["alpha harbour"])  # pushed out by the bound of 3 entries
    assert calls[2] == ["alpha harbour"]


def test_batched_vectors_stay_within_cosine_099_of_one_at_a_time(embedder):
    """The indexer's lots (256 texts, length-sorted batches) against each text alone."""
    rng = np.random.default_rng(3)
    texts = [" ".join(rng.choice(WORDS, size=int(n))) for n in rng.integers(5, 180, size=40)]
    from memex.core.models.model_set import EMBED_BATCH_SIZE

    batched = embedder.embed_documents(texts, batch_size=EMBED_BATCH_SIZE)
    alone = np.stack([embedder.embed_documents([t], batch_size=1)[0] for t in texts])
    assert float((batched * alone).sum(axis=1).min()) >= 0.99


def test_small_files_are_read_in_growing_groups_and_large_ones_alone():
    small = [(DiskFile(f"/d/s{i}", 100, 0), 1) for i in range(100)]
    big = (DiskFile("/d/big", 10_000_000, 0), 1)
    groups = list(reading_groups(small[:3] + [big] + small[3:]))
    sizes = [len(g) for g in groups]
    assert sizes[:4] == [1, 2, 1, 4] and groups[2] == [big]  # the big file alone, in its place
    assert max(sizes) == GROUP_FILES and sum(sizes) == 101
    assert [item for g in groups for item in g] == small[:3] + [big] + small[3:]


def test_pace_predicts_words_and_meaning_separately():
    now = [100.0]
    pace = Pace(clock=lambda: now[0])
    pace.start_words(files_total=10, bytes_total=1000)
    assert pace.files_per_s() is None and pace.words_left_s() is None
    now[0] += 2.0
    pace.read(files=5, size=500, chunks=20)
    assert pace.files_per_s() == pytest.approx(2.5)
    assert pace.words_left_s() == pytest.approx(2.0)  # half the bytes in 2 s: 2 s more
    assert pace.meaning_left_s(chunks_pending=20) is None  # no embedding rate yet
    pace.embedded(chunks=10, seconds=1.0)
    assert pace.chunks_per_s() == pytest.approx(10.0)
    # 2 s of words, then 10 waiting + 20 the unread half will give, at 10 chunks/s
    assert pace.meaning_left_s(chunks_pending=10) == pytest.approx(5.0)
    pace.end_words()
    assert pace.words_left_s() == 0.0 and pace.meaning_left_s(chunks_pending=30) == pytest.approx(3.0)


def test_progress_carries_speeds_and_time_left_and_the_cli_shows_them(tmp_path, open_library):
    _write_notes(tmp_path / "notes", files=12, paragraphs=2)
    lib = open_library()
    seen: list[IndexProgress] = []
    lib.index([tmp_path / "notes"], progress=seen.append)
    done = seen[-1]
    assert done.phase == "done" and done.words_left_s == 0.0 and done.meaning_left_s == 0.0
    assert done.chunks_per_s is not None and done.chunks_per_s > 0
    line = output.format_progress(IndexProgress(
        "embedding", 40, 40, 900, 300, 600, files_per_s=41.0, chunks_per_s=38.5, words_left_s=0.0,
        meaning_left_s=250.0))
    assert "meaning 38.5 chunks/s, 4 min 10 s left" in line and "words" not in line.split("errors")[1]
    summary = output.format_progress_summary(IndexProgress(
        "indexing", 40, 10, 90, 0, 90, files_per_s=5.0, words_left_s=6.0))
    assert summary.endswith("(words 5.0 files/s, 6 s left)")
