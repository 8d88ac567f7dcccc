"""A message skipped because it stopped the reader is read again by "Try again"
(``Library.retry``): the mailbox is read on from that message, the mail before it kept."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from mailgen import message, write_mbox
from memex.core.extract import extract_file
from memex.core.extract.worker import ExtractionWorker
from memex.core.library import Library
from memex.core.types import Extraction

TARGET = f"{__name__}:crash_while_flagged"
FLAG_ENV = "MEMEX_TEST_MAIL_RETRY_FLAG"  # while this file exists, reading the marked message crashes
LOG_ENV = "MEMEX_TEST_MAIL_RETRY_LOG"  # the start of each request
MARK = b"Troublemaker"
WORDS = ("aardvark", "badger", "cormorant", "dormouse", "egret", "ferret")


def crash_while_flagged(path: Path, max_chars: int, kind: str | None = None, start: int = 0) -> Extraction:
    """(In the extraction process.) ``extract_file``, except that reading a message holding
    ``MARK`` crashes the process while the flag file exists."""
    from memex.core.extract import mail

    if not getattr(mail.MessageReader, "flagged", False):
        plain_read = mail.MessageReader.read

        def read(self: mail.MessageReader, data: bytes, max_chars: int, depth: int = 0,
                 too_large: bool = False) -> Extraction:
            if MARK in data and os.path.exists(os.environ[FLAG_ENV]):
                os.kill(os.getpid(), signal.SIGKILL)
            return plain_read(self, data, max_chars, depth, too_large)

        setattr(mail.MessageReader, "read", read)  # noqa: B010 - a class attribute, on purpose
        setattr(mail.MessageReader, "flagged", True)  # noqa: B010
    with open(os.environ[LOG_ENV], "a", encoding="utf-8") as log:
        log.write(f"{start}\n")
    return extract_file(path, max_chars, kind, start=start)


def write_mailbox(path: Path, bad: int) -> list[int]:
    """A mailbox of one message per word, message ``bad`` holding MARK; the messages' offsets."""
    return write_mbox(path, [message("Troublemaker" if i == bad else f"Note {i}",
                                     f"{MARK.decode() if i == bad else 'Today'} the {word} was seen.\n")
                             for i, word in enumerate(WORDS)])


def found(lib: Library, word: str) -> list[str]:
    return [h.path for h in lib.find(word, mode="bm25").hits]


def ids(lib: Library, paths: list[str]) -> list[int]:
    conn = lib.store.connection()
    return [int(next(iter(conn.execute("SELECT id FROM documents WHERE path = ?", (p,))))[0]) for p in paths]


@pytest.fixture
def flagged(tmp_path: Path, open_library, monkeypatch: pytest.MonkeyPatch) -> tuple[Library, Path, Path]:
    flag, log = tmp_path / "flag", tmp_path / "requests.log"
    flag.touch()
    monkeypatch.setenv(FLAG_ENV, str(flag))
    monkeypatch.setenv(LOG_ENV, str(log))
    lib = open_library(reranker=False, extraction_worker=ExtractionWorker(timeout_s=30, target=TARGET))
    return lib, flag, log


def requests(log: Path) -> list[int]:
    return [int(line) for line in log.read_text(encoding="utf-8").split()]


def index_mailbox(tmp_path: Path, lib: Library, bad: int) -> tuple[Path, list[int], str]:
    """A mailbox whose message ``bad`` stops the reader, indexed: the mailbox, its messages'
    offsets, and the path of the message listed as failed."""
    folder = tmp_path / "mail"
    folder.mkdir()
    box = folder / "inbox.mbox"
    offsets = write_mailbox(box, bad)
    lib.index([folder])
    return box, offsets, f"{box}/{offsets[bad]}"


@pytest.mark.parametrize("bad", [0, 3])
def test_try_again_reads_a_skipped_message_from_where_it_lies(
        tmp_path: Path, flagged: tuple[Library, Path, Path], bad: int) -> None:
    lib, flag, log = flagged
    box, offsets, skipped = index_mailbox(tmp_path, lib, bad)
    assert [(f.path, f.reason) for f in lib.failures()] == [(skipped, "crashed")]
    assert not found(lib, WORDS[bad])
    others = [f"{box}/{o}" for i, o in enumerate(offsets) if i != bad]
    kept = ids(lib, others)

    asked = len(requests(log))
    assert lib.index().errors == () and len(requests(log)) == asked  # unchanged: not tried again

    flag.unlink()  # the reader no longer stops on it
    report = lib.retry([skipped])
    assert report.errors == () and report.failed == 0
    assert lib.failures() == [] and lib.status().failed == 0
    assert found(lib, WORDS[bad]) == [skipped]
    assert all(found(lib, w) == [p] for w, p in zip([w for i, w in enumerate(WORDS) if i != bad], others, strict=True))
    assert ids(lib, others) == kept  # the other messages keep their rows (and vectors)
    assert requests(log)[asked:] == [offsets[bad]]  # read on from the message, not from the start

    assert lib.index().errors == () and len(requests(log)) == asked + 1  # read to its end again


def test_try_again_after_the_mailbox_changed_before_the_message_reads_it_all(
        tmp_path: Path, flagged: tuple[Library, Path, Path]) -> None:
    lib, flag, log = flagged
    box, offsets, skipped = index_mailbox(tmp_path, lib, 3)
    assert [f.path for f in lib.failures()] == [skipped]

    box.write_bytes(box.read_bytes().replace(b"aardvark", b"armadilo"))  # same length, before the message
    flag.unlink()
    asked = len(requests(log))
    report = lib.retry([skipped])
    assert report.errors == () and lib.failures() == []
    assert requests(log)[asked:] == [0]  # from its start
    assert found(lib, "armadilo") == [f"{box}/0"] and not found(lib, "aardvark")
    assert found(lib, WORDS[3]) == [skipped]


def test_try_again_on_a_message_that_still_stops_the_reader_lists_it_again(
        tmp_path: Path, flagged: tuple[Library, Path, Path]) -> None:
    lib, _, _ = flagged
    box, offsets, skipped = index_mailbox(tmp_path, lib, 2)
    report = lib.retry([skipped])
    assert [(e.path, e.reason) for e in report.errors] == [(skipped, "crashed")]
    assert [f.path for f in lib.failures()] == [skipped]
    assert all(found(lib, w) for i, w in enumerate(WORDS) if i != 2)
