"""Reading a run's files into the word index, the extraction of one group overlapping the
writing of the group before it.

Small files are read several to a round trip of the extraction process and written in one
transaction; a large file is read and written on its own. While this process writes group
N, the extraction process already reads group N+1: one background thread hands the groups to
the worker in order (so its calls stay serialised) and cuts each extracted group into chunks
(tokenising releases the GIL, so it runs beside the writes), and this thread stays the only
writer. A file is noted as in flight before it is sent, and its pinned copy is held
until its request is done, even when the group is abandoned.

A mailbox, and a file that was in flight when an earlier run died, are read alone with
nothing else in flight, so a crash on them counts against them only. A stop lands between
two groups, or while waiting for a group's extraction: the groups not yet written are
abandoned whole (their in-flight notes removed; an extraction still running finishes in the
child and its result is dropped).
"""

from __future__ import annotations

import contextlib
import shutil
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ExtractionError
from ..extract.worker import ExtractionWorker, Outcome, Request
from ..store import in_flight
from ..store.connection import checkpoint, write_transaction
from ..types import ChunkSpan
from . import scan
from .chunking import TokenizerLike, chunk_documents
from .mailboxes import MAILBOX_KINDS
from .scan import DiskFile

if TYPE_CHECKING:
    from .indexer import Indexer, _Reading

CHECKPOINT_EVERY = 200  # files between PASSIVE WAL checkpoints (and one at the end of a run)
GROUP_FILE_BYTES = 256 * 1024  # files up to this size are read several to a round trip…
GROUP_BYTES = 2 * 1024 * 1024  # … up to this much together …
GROUP_FILES = 32  # … and this many files
CANCEL_POLL_S = 0.05  # how often a stop is looked for while waiting for an extraction

Planned = tuple[DiskFile, int | None]


def reading_groups(files: Sequence[Planned]) -> Iterator[list[Planned]]:
    """The run's files in order, small ones grouped (``GROUP_*``), each large one alone. Groups
    start at one file and double, so the first files are searchable (and a stop lands) at once."""
    group: list[Planned] = []
    size, most = 0, 1
    for item in files:
        f = item[0]
        if f.size > GROUP_FILE_BYTES:
            if group:
                yield group
                group, size, most = [], 0, min(GROUP_FILES, most * 2)
            yield [item]
            continue
        if group and (len(group) >= most or size + f.size > GROUP_BYTES):
            yield group
            group, size, most = [], 0, min(GROUP_FILES, most * 2)
        group.append(item)
        size += f.size
    if group:
        yield group


@dataclass
class _Batch:
    """A group on its way: the outcomes decided when it was judged, the files asked of the
    extraction process, and that extraction (None when nothing was asked)."""

    group: Sequence[Planned] | None  # None: a file read alone inside another group
    outcomes: list[str]
    asked: list[_Reading]
    extraction: Future[_Extracted] | None
    pins: ExitStack | None = None  # let go by the extraction, or here when it is called off


@dataclass
class _Extracted:
    """A group's extraction as the background thread hands it over: each file's outcome, and
    the extracted ones' chunks in order (or the error chunking them raised, raised by the
    writer once the group is its own, so its files stay noted as in flight)."""

    outcomes: list[Outcome]
    chunks: list[list[ChunkSpan]] | Exception | None  # None: not chunked, the run was stopped


def _extract_and_chunk(worker: ExtractionWorker, requests: list[Request], pins: ExitStack,
                       chunking: _Chunking) -> _Extracted:
    """(On the background thread.) The extraction, the pinned files let go once it is done;
    then the extracted pages cut into chunks, so the writer only writes. Skipped after a stop:
    nobody will write this group."""
    with pins:
        outcomes = worker.extract_many(requests)
    if chunking.cancelled():
        return _Extracted(outcomes, None)
    pages = [result.pages for result in outcomes if not isinstance(result, ExtractionError)]
    try:
        return _Extracted(outcomes, chunk_documents(pages, chunking.tokenizer, chunking.max_tokens,
                                                    chunking.overlap))
    except Exception as exc:  # noqa: BLE001 - raised by the writer, see _Extracted
        return _Extracted(outcomes, exc)


@dataclass(frozen=True)
class _Chunking:
    """What the background thread needs to chunk a group (the tokenizer is safe to share)."""

    tokenizer: TokenizerLike
    max_tokens: int
    overlap: int
    cancelled: Callable[[], bool]


class WordsReader:
    """Reads the planned files of one run for ``host`` (the :class:`Indexer`)."""

    def __init__(self, host: Indexer) -> None:
        self.host = host
        self._queue: deque[_Batch] = deque()  # sent for extraction, not yet written, in order
        self._feeder: ThreadPoolExecutor | None = None
        self.counts: dict[str, int] = {}

    def read_all(self, files: Sequence[Planned], counts: dict[str, int]) -> None:
        """Every file into the word index, ``counts`` told each outcome; vectors only for the
        first few batches (``MeaningQueue.early``)."""
        self.counts = counts
        self._feeder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="memex-extract-feed")
        try:
            for group in reading_groups(files):
                self.host.job.checkpoint()
                self._queue.append(self._start_group(group))
                while len(self._queue) > 1:  # the one before: written while this one is extracted
                    self._finish_next()
            while self._queue:
                self._finish_next()
        finally:
            self._abandon()
            self._feeder.shutdown(wait=False)
            self._feeder = None

    # -- one group ------------------------------------------------------------------------
    def _start_group(self, group: Sequence[Planned]) -> _Batch:
        """Judge the group's files and send the changed ones for extraction."""
        h = self.host
        outcomes: list[str] = []
        ready: list[_Reading] = []
        for f, source_id in group:
            h._current = f.path
            h._emit("indexing", force=True)
            judged = h._judge(f, source_id)
            if isinstance(judged, str):
                outcomes.append(judged)
            elif judged.kind in MAILBOX_KINDS or judged.attempts:
                # Alone and with nothing else in flight: a mailbox is read in committed slices;
                # a file in flight when a run died counts only against itself.
                while self._queue:
                    self._finish_next()
                if judged.kind in MAILBOX_KINDS:
                    outcomes.append(h.mailboxes.read(judged))
                else:
                    self._queue.append(self._send(None, [], [judged]))
                    self._finish_next()
            else:
                ready.append(judged)
        return self._send(group, outcomes, ready)

    def _send(self, group: Sequence[Planned] | None, outcomes: list[str], ready: list[_Reading]) -> _Batch:
        """Note ``ready`` in flight, pin each file and hand them to the background thread."""
        h = self.host
        batch = _Batch(group, outcomes, [], None)
        if not ready:
            return batch
        with write_transaction(h.conn):
            for r in ready:
                in_flight.note_reading(h.conn, r.file.path, r.attempts + 1, r.digest)
        pins = ExitStack()
        try:
            shared = scan.pin_folder() if len(ready) > 1 else None
            if shared is not None:
                pins.callback(shutil.rmtree, shared, True)
            requests: list[Request] = []
            for r in ready:
                try:  # the very file judged, even if swapped meanwhile
                    pin = pins.enter_context(scan.PinnedFile(r.real, shared))
                except OSError as exc:
                    outcomes.append(h._record_failure(r.file, r.source_id, r.digest, "unreadable",
                                                      f"Cannot read file: {exc.strerror or exc}", r.known))
                    continue
                requests.append((Path(pin.path), h.options.max_chars, r.kind))
                batch.asked.append(r)
            if requests:
                assert self._feeder is not None
                chunking = _Chunking(h.tokenizer, h.options.chunk_tokens, h.options.chunk_overlap,
                                     lambda: h.job.cancelled)
                batch.extraction = self._feeder.submit(_extract_and_chunk, h.worker, requests, pins, chunking)
                batch.pins = pins
        finally:
            if batch.extraction is None:
                pins.close()
        return batch

    def _finish_next(self) -> None:
        """Wait for the oldest group's extraction, then write it and count it done."""
        batch = self._queue[0]
        extracted = self._wait(batch.extraction) if batch.extraction is not None else _Extracted([], [])
        self._queue.popleft()  # from here on an error leaves its files noted as in flight
        if extracted.chunks is None:  # stopped before it was chunked: lands here, nothing written
            self._queue.appendleft(batch)
            self.host.job.checkpoint()
            raise AssertionError("a group left unchunked by a stop reached the writer")
        if isinstance(extracted.chunks, Exception):
            raise extracted.chunks
        outcomes = self._write(batch, extracted.outcomes, extracted.chunks)
        for outcome in outcomes:
            self.counts[outcome] = self.counts.get(outcome, 0) + 1
        if batch.group is not None:
            self._done(batch.group)

    def _write(self, batch: _Batch, extracted: list[Outcome], chunks: list[list[ChunkSpan]]) -> list[str]:
        """The batch's outcomes, its extracted files (chunked already) written in one transaction."""
        h = self.host
        chunked = iter(chunks)
        outcomes = list(batch.outcomes)
        with h._group():
            for r, result in zip(batch.asked, extracted, strict=True):
                h._current = r.file.path
                spans = next(chunked) if not isinstance(result, ExtractionError) else []
                outcomes.append(h._write(r, result, spans))
        return outcomes

    def _wait(self, extraction: Future[_Extracted]) -> _Extracted:
        """The extraction's outcomes; a stop asked for meanwhile lands at once."""
        job = self.host.job
        while not extraction.done():
            if job.cancelled:
                job.checkpoint()  # raises
            wait_for([extraction], timeout=CANCEL_POLL_S)
        return extraction.result()

    def _done(self, group: Sequence[Planned]) -> None:
        h = self.host
        before = h._files_done
        h._files_done += len(group)
        h.pace.read(len(group), sum(f.size for f, _ in group), 0)
        h.guard()
        h._emit("indexing", force=True)
        h.meaning.early()
        if h._files_done // CHECKPOINT_EVERY != before // CHECKPOINT_EVERY:
            checkpoint(h.conn)

    def _abandon(self) -> None:
        """Drop the groups not written (a stop, or an error): an extraction not begun is called
        off, one running finishes in the child unheeded; their files are no longer in flight."""
        if not self._queue:
            return
        paths: list[str] = []
        for batch in self._queue:
            if batch.extraction is not None and batch.extraction.cancel() and batch.pins is not None:
                batch.pins.close()  # never begun: nobody else lets its files go
            paths.extend(r.file.path for r in batch.asked)
        self._queue.clear()
        # Best effort: when the library cannot be written now, the notes stay and the next run
        # reads these files alone, which costs time but loses nothing.
        with contextlib.suppress(Exception), write_transaction(self.host.conn):
            for path in paths:
                in_flight.done_reading(self.host.conn, path)
