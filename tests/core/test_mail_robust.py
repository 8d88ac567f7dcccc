"""A message that hangs or crashes the extraction process does not hold its mailbox back: the
slice is read again one message at a time, the message that stops the reader is listed as a
failed document inside the mailbox with one line why, and the mail after it is read on. It is
not tried again until the mailbox changes where it lies; the time this costs is two deadlines,
however many messages the mailbox holds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from mailgen import message, write_mbox
from memex.core.errors import ExtractionError
from memex.core.extract import extract_file
from memex.core.extract.mailbox import one_message, skip_message, slice_request
from memex.core.extract.worker import ExtractionWorker
from memex.core.library import Library
from memex.core.types import Extraction, IndexProgress

TROUBLED = f"{__name__}:troubled_extract"
TROUBLE_ENV = "MEMEX_TEST_MAIL_TROUBLE"  # "hang" or "crash": what reading the marked message does
LOG_ENV = "MEMEX_TEST_MAIL_ROBUST_LOG"  # each request noted when it begins and when it ends
MARK = b"Troublemaker"
WORDS = ("aardvark", "badger", "cormorant", "dormouse", "egret", "ferret", "gannet", "heron", "ibis",
         "jackal", "kestrel", "lemming")
DEADLINE_S = 3.0


def troubled_extract(path: Path, max_chars: int, kind: str | None = None, start: int = 0) -> Extraction:
    """(In the extraction process.) ``extract_file``, except that reading a message holding
    ``MARK`` hangs or crashes the process; every request is noted in the log."""
    from memex.core.extract import mail

    if not getattr(mail.MessageReader, "troubled", False):
        plain_read = mail.MessageReader.read

        def read(self: mail.MessageReader, data: bytes, max_chars: int, depth: int = 0,
                 too_large: bool = False) -> Extraction:
            if MARK in data:
                if os.environ[TROUBLE_ENV] == "hang":
                    time.sleep(3600)
                os.kill(os.getpid(), signal.SIGKILL)
            return plain_read(self, data, max_chars, depth, too_large)

        setattr(mail.MessageReader, "read", read)  # noqa: B010 - a class attribute, on purpose
        setattr(mail.MessageReader, "troubled", True)  # noqa: B010
    note(f"begin {start}")
    result = extract_file(path, max_chars, kind, start=start)
    note(f"end {start} {len(result.members)}")
    return result


def note(line: str) -> None:
    with open(os.environ[LOG_ENV], "a", encoding="utf-8") as log:
        log.write(line + "\n")


def requests(log: Path) -> list[tuple[int, bool]]:
    """(start asked for, whether it came back) of each request, in order."""
    if not log.exists():
        return []
    lines = [line.split() for line in log.read_text(encoding="utf-8").splitlines()]
    asked: list[tuple[int, bool]] = []
    for line in lines:
        if line[0] == "begin":
            asked.append((int(line[1]), False))
        else:
            assert asked and asked[-1] == (int(line[1]), False)
            asked[-1] = (int(line[1]), True)
    return asked


def mailbox_with_trouble(folder: Path, bad: int, count: int = 10) -> tuple[Path, list[int]]:
    """A mailbox of ``count`` messages, each with a word of its own; message ``bad`` holds MARK."""
    folder.mkdir(exist_ok=True)
    box = folder / "inbox.mbox"
    messages = [message(f"Note {i}", f"Today the {WORDS[i]} was seen.\n") for i in range(count)]
    messages[bad] = message("Troublemaker", f"{MARK.decode()} with the {WORDS[bad]}.\n")
    return box, write_mbox(box, messages)


def found(lib: Library, word: str) -> list[str]:
    return [h.path for h in lib.find(word, mode="bm25").hits]


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "requests.log"
    monkeypatch.setenv(LOG_ENV, str(path))
    return path


def troubled_library(open_library, monkeypatch: pytest.MonkeyPatch, trouble: str) -> Library:
    monkeypatch.setenv(TROUBLE_ENV, trouble)
    worker = ExtractionWorker(timeout_s=DEADLINE_S, target=TROUBLED)
    return open_library(reranker=False, extraction_worker=worker)


@pytest.mark.slow
@pytest.mark.parametrize("trouble", ["hang", "crash"])
def test_a_message_that_stops_the_reader_is_listed_and_the_rest_is_read(
        tmp_path: Path, open_library, log: Path, monkeypatch: pytest.MonkeyPatch, trouble: str) -> None:
    lib = troubled_library(open_library, monkeypatch, trouble)
    folder = tmp_path / "mail"
    box, offsets = mailbox_with_trouble(folder, bad=4)
    began = time.monotonic()
    report = lib.index([folder])
    took = time.monotonic() - began

    assert report.failed == 0 and report.added == 1  # the mailbox itself is read
    for i, word in enumerate(WORDS[:10]):
        assert found(lib, word) == ([] if i == 4 else [f"{box}/{offsets[i]}"]), word
    reason = "timeout" if trouble == "hang" else "crashed"
    bad = f"{box}/{offsets[4]}"
    [failure] = lib.failures()
    assert (failure.path, failure.reason) == (bad, reason)
    assert failure.message.startswith("Reading this message stopped Memex's reader (")
    assert failure.message.endswith("it is skipped until the mailbox changes") and "\n" not in failure.message
    assert [(e.path, e.reason) for e in report.errors] == [(bad, reason)]
    assert lib.status().failed == 1

    asked = requests(log)
    assert [start for start, done in asked if not done] == [0, one_message(offsets[4])]  # two deadlines at most
    assert (skip_message(offsets[4]), True) in asked  # found where the next message starts, reading nothing
    assert asked[-1] == (offsets[5], True)  # then read on in one slice
    if trouble == "hang":
        assert 2 * DEADLINE_S <= took < 2 * DEADLINE_S + 40  # two deadlines and a few fresh processes

    report = lib.index()  # unchanged: the bad message is not tried again
    assert len(requests(log)) == len(asked) and report.errors == ()
    assert [f.path for f in lib.failures()] == [bad]

    old_end = box.stat().st_size
    write_mbox(box, [message("Later", "A lemming arrived.\n")])
    report = lib.index()  # grew: only the new mail is read
    assert requests(log)[len(asked):] == [(old_end, True)]
    assert found(lib, "lemming") == [f"{box}/{old_end}"] and [f.path for f in lib.failures()] == [bad]


@pytest.mark.parametrize("bad", [0, 9])
def test_the_first_or_last_message_crashing_the_reader(
        tmp_path: Path, open_library, log: Path, monkeypatch: pytest.MonkeyPatch, bad: int) -> None:
    lib = troubled_library(open_library, monkeypatch, "crash")
    folder = tmp_path / "mail"
    box, offsets = mailbox_with_trouble(folder, bad=bad)
    report = lib.index([folder])
    assert report.added == 1 and report.failed == 0
    assert [(f.path, f.reason) for f in lib.failures()] == [(f"{box}/{offsets[bad]}", "crashed")]
    assert all(found(lib, word) for i, word in enumerate(WORDS[:10]) if i != bad)
    assert not found(lib, WORDS[bad])
    assert sum(not done for _, done in requests(log)) == 2


def test_a_mailbox_changed_where_the_message_lies_tries_it_again(
        tmp_path: Path, open_library, log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = troubled_library(open_library, monkeypatch, "crash")
    folder = tmp_path / "mail"
    box, offsets = mailbox_with_trouble(folder, bad=2, count=5)
    lib.index([folder])
    assert [f.path for f in lib.failures()] == [f"{box}/{offsets[2]}"]

    data = box.read_bytes()
    box.write_bytes(data.replace(MARK, b"Peacemaker"))  # the same length: the messages stay where they were
    report = lib.index()
    assert report.errors == () and lib.failures() == []
    assert found(lib, WORDS[2]) == [f"{box}/{offsets[2]}"]
    assert all(found(lib, word) for word in WORDS[:5])


def test_a_stop_while_reading_one_message_at_a_time_loses_nothing(
        tmp_path: Path, open_library, log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = troubled_library(open_library, monkeypatch, "crash")
    folder = tmp_path / "mail"
    box, offsets = mailbox_with_trouble(folder, bad=3, count=6)
    cancel = threading.Event()

    def stop_after_two_alone(p: IndexProgress) -> None:
        if sum(start < 0 and done for start, done in requests(log)) >= 2:
            cancel.set()  # two messages read alone and written

    assert lib.index([folder], progress=stop_after_two_alone, cancel=cancel).cancelled
    assert found(lib, WORDS[0]) and found(lib, WORDS[1]) and not found(lib, WORDS[4])
    report = lib.index()
    assert not report.cancelled and report.failed == 0
    assert [f.path for f in lib.failures()] == [f"{box}/{offsets[3]}"]
    assert all(found(lib, word) for i, word in enumerate(WORDS[:6]) if i != 3)


def test_one_message_and_skip_requests(tmp_path: Path) -> None:
    box, offsets = mailbox_with_trouble(tmp_path, bad=1, count=3)
    assert slice_request(offsets[1]) == (offsets[1], "slice")
    assert slice_request(one_message(offsets[1])) == (offsets[1], "one")
    assert slice_request(skip_message(offsets[1])) == (offsets[1], "skip")
    assert slice_request(one_message(0)) == (0, "one") and slice_request(skip_message(0)) == (0, "skip")

    one = extract_file(box, start=one_message(offsets[0]))
    assert [m.key for m in one.members] == ["0"] and one.resume_at == offsets[1]
    skipped = extract_file(box, start=skip_message(offsets[1]))
    assert skipped.members == () and skipped.resume_at == offsets[2]
    last = extract_file(box, start=one_message(offsets[2]))
    assert [m.name for m in last.members] == ["Note 2"] and last.resume_at is None
    assert extract_file(box, start=skip_message(offsets[2])).resume_at is None
    with pytest.raises(ExtractionError, match="changed since it was last read"):
        extract_file(box, start=one_message(offsets[1] + 3))  # not where a message starts


def test_the_extraction_process_warms_up_the_mail_readers() -> None:
    code = ("import sys; from memex.core.extract import worker; worker.warm_up(); "
            "print(all(f'memex.core.extract.{m}' in sys.modules for m in ('mail', 'mailbox')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "True"


# -- scans and pictures attached to a message are read by OCR from a private copy ------------

COPY_LOG_ENV = "MEMEX_TEST_OCR_COPY_LOG"  # the fake engine notes each file it is handed
FAKE_ENGINE = f"{__name__}:fake_engine"


def fake_engine(path: Path, kind: str, page: int, timeout_s: float) -> object:
    """(In the OCR process.) Notes the file it is given (path, mode, bytes' hash) and
    "reads" a word naming the kind of file it holds."""
    import hashlib

    from memex.core.types import OcrPage, OcrWord

    data = Path(path).read_bytes()
    with open(os.environ[COPY_LOG_ENV], "a", encoding="utf-8") as log:
        log.write(f"{path}\t{kind}\t{page}\t{os.stat(path).st_mode & 0o777:o}\t{hashlib.sha256(data).hexdigest()}\n")
    word = "SCANNEDWALRUS" if kind == "pdf" else "PICTUREDOTTER"
    return OcrPage(number=page, text=f"the {word} note", words=(OcrWord(word, 10, 10, 90, 30),),
                   width=200.0, height=100.0, engine="fake")


def scanned_pdf() -> bytes:
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=200, height=100)
    pixmap = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 200, 100), False)
    pixmap.clear_with(230)
    page.insert_image(page.rect, pixmap=pixmap)
    return bytes(doc.tobytes())


def picture() -> bytes:
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (120, 60), "white").save(out, format="PNG")
    return out.getvalue()


def with_attachments(subject: str, files: list[tuple[str, bytes, str]]) -> EmailMessage:
    msg = message(subject, "Scans attached.\n")
    for name, data, ctype in files:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


@pytest.mark.slow
def test_scans_and_pictures_attached_to_mail_are_read_by_ocr_from_a_private_copy(
        tmp_path: Path, open_library, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace as replaced

    from memex.core.config import cache_dir
    from memex.core.indexing.member_copies import COPIES_FOLDER
    from memex.core.indexing.ocr_phase import OcrWorker

    monkeypatch.setattr(OcrWorker, "SPEC", replaced(OcrWorker.SPEC, target=FAKE_ENGINE))
    copy_log = tmp_path / "copies.log"
    monkeypatch.setenv(COPY_LOG_ENV, str(copy_log))
    folder = tmp_path / "mail"
    folder.mkdir()
    pdf, png = scanned_pdf(), picture()
    box = folder / "inbox.mbox"
    offsets = write_mbox(box, [message("Hello", "Nothing attached.\n"),
                               with_attachments("Scans", [("letter.pdf", pdf, "application/pdf")])])
    eml = folder / "photo.eml"
    eml.write_bytes(with_attachments("Photo", [("board.png", png, "image/png")]).as_bytes())
    lib = open_library(reranker=False)
    report = lib.index([folder])
    assert report.failed == 0 and report.errors == ()

    scan_path = f"{box}/{offsets[1]}/attachment-1-letter.pdf"
    photo_path = f"{eml}/attachment-1-board.png"
    [walrus] = lib.find("scannedwalrus", mode="bm25").hits
    assert (walrus.path, walrus.page, walrus.best.ocr, walrus.container) == (scan_path, 1, True, str(box))
    [otter] = lib.find("picturedotter", mode="bm25").hits
    assert (otter.path, otter.best.ocr, otter.container) == (photo_path, True, str(eml))
    words = lib.ocr_words(scan_path, 1)
    assert words is not None and [w.text for w in words.words] == ["SCANNEDWALRUS"]

    import hashlib

    copies = cache_dir() / COPIES_FOLDER
    handed = sorted(line.split("\t") for line in copy_log.read_text(encoding="utf-8").splitlines())
    assert sorted((kind, page, mode, digest) for _, kind, page, mode, digest in handed) == sorted([
        ("image", "1", "600", hashlib.sha256(png).hexdigest()), ("pdf", "1", "600", hashlib.sha256(pdf).hexdigest())])
    assert all(Path(path).is_relative_to(copies) for path, *_ in handed)  # Memex's own cache folder ...
    assert not any(Path(path).exists() for path, *_ in handed) and list(copies.iterdir()) == []  # ... emptied after
    assert sorted(p.name for p in folder.iterdir()) == ["inbox.mbox", "photo.eml"]  # nothing written beside the mail

    lib.index()  # nothing changed: nothing read again
    assert len(copy_log.read_text(encoding="utf-8").splitlines()) == 2


def test_an_attachment_whose_mailbox_moved_its_message_waits_for_the_next_run(
        tmp_path: Path, open_library, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace as replaced

    from memex.core.indexing.member_copies import MemberCopies, NotNow
    from memex.core.indexing.ocr_phase import OcrWorker
    from memex.core.store import ocr as ocr_store

    folder = tmp_path / "mail"
    folder.mkdir()
    box = folder / "inbox.mbox"
    pdf = scanned_pdf()
    offsets = write_mbox(box, [message("Hello", "Nothing attached.\n"),
                               with_attachments("Scans", [("letter.pdf", pdf, "application/pdf")])])
    lib = open_library(reranker=False)
    lib.update_settings(replaced(lib.settings, ocr=False))  # the page is left waiting
    lib.index([folder])
    conn = lib.store.connection()
    [page] = ocr_store.next_waiting(conn, 10)
    assert page.path == f"{box}/{offsets[1]}/attachment-1-letter.pdf"
    (tmp_path / "cache").mkdir()
    copies = MemberCopies(tmp_path / "cache")
    copy = copies.copy_of(conn, page.document_id, page.path)
    assert copy is not None and copy.read_bytes() == pdf and copy.is_relative_to(tmp_path / "cache")
    copies.close()
    assert not copy.exists()

    from memex.core.store import members as members_store
    from memex.core.store.connection import write_transaction

    gone = f"{box}/{offsets[1]}/attachment-9-gone.pdf"  # a key the message does not hold
    with write_transaction(conn):
        members_store.rename_member(conn, page.document_id, "attachment-9-gone.pdf", page.path, gone)
    with pytest.raises(NotNow) as unchanged:
        copies.copy_of(conn, page.document_id, gone)
    assert unchanged.value.lasting  # the mailbox is as read: the page fails rather than wait for ever
    with write_transaction(conn):
        members_store.rename_member(conn, page.document_id, "attachment-1-letter.pdf", gone, page.path)

    box.write_bytes(box.read_bytes()[offsets[1]:])  # the first message deleted and the mailbox compacted
    with pytest.raises(NotNow) as moved:
        copies.copy_of(conn, page.document_id, page.path)
    assert not moved.value.lasting and "changed" in str(moved.value)
    assert copies.copy_of(conn, 0, str(box)) is None  # a file of its own: no copy
    copies.close()

    monkeypatch.setattr(OcrWorker, "SPEC", replaced(OcrWorker.SPEC, target=FAKE_ENGINE))
    monkeypatch.setenv(COPY_LOG_ENV, str(tmp_path / "copies.log"))
    lib.update_settings(replaced(lib.settings, ocr=True))
    assert lib.index().errors == ()  # read anew: the attachment is found again at its new offset
    assert found(lib, "scannedwalrus") == [f"{box}/0/attachment-1-letter.pdf"]


@pytest.mark.slow
def test_a_word_only_in_a_scan_attached_to_a_message_is_found_by_the_real_engine(
        tmp_path: Path, open_library) -> None:
    import pymupdf

    source = pymupdf.open()
    source.new_page(width=420, height=220).insert_text((40, 110), "the AXOLOTL invoice", fontsize=22)
    pixmap = source[0].get_pixmap(dpi=150)
    scan = pymupdf.open()
    scan.new_page(width=420, height=220).insert_image(pymupdf.Rect(0, 0, 420, 220), pixmap=pixmap)
    folder = tmp_path / "mail"
    folder.mkdir()
    box = folder / "inbox.mbox"
    invoice = ("invoice.pdf", bytes(scan.tobytes()), "application/pdf")
    offsets = write_mbox(box, [with_attachments("Invoice", [invoice])])
    lib = open_library(reranker=False)
    report = lib.index([folder])
    assert report.errors == ()
    [hit] = lib.find("axolotl", mode="bm25").hits
    assert (hit.path, hit.page, hit.best.ocr) == (f"{box}/{offsets[0]}/attachment-1-invoice.pdf", 1, True)
    words = lib.ocr_words(hit.path, 1)
    assert words is not None and any(w.text.lower().strip(".,") == "axolotl" for w in words.words)
