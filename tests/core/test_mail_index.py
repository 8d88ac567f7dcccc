"""Mail in the library: the messages of an mbox mailbox and their attachments are documents
of their own, linked to the file that holds them; appended mail is read alone; mailboxes
moved, renamed or deleted take their messages with them; Maildir folders and .eml files;
opening a message writes it into Memex's cache folder and nowhere else."""

from __future__ import annotations

import calendar
import mailbox
import os
import threading
from email.message import EmailMessage
from pathlib import Path

import pytest
from mailgen import message, pdf_bytes, write_mbox
from memex.core.cli.output import format_hits, hit_dict
from memex.core.config import cache_dir
from memex.core.errors import ExtractionError, LibraryError
from memex.core.extract.worker import ExtractionWorker
from memex.core.library import Library
from memex.core.service.client import results_from_dict
from memex.core.service.operations import hit_dict as service_hit_dict
from memex.core.service.operations import results_dict
from memex.core.types import Extraction, IndexProgress, SearchFilters

COUNTING = f"{__name__}:counting_extract"
LOG_ENV = "MEMEX_TEST_MAIL_LOG"  # where counting_extract notes each request
SLICE_ENV = "MEMEX_TEST_MAIL_SLICE"  # messages per slice, in the extraction process
FAIL_FILE_ENV = "MEMEX_TEST_MAIL_FAIL"  # while this file exists, a slice from its offset fails


def counting_extract(path: Path, max_chars: int, kind: str | None = None, start: int = 0) -> Extraction:
    """(In the extraction process.) ``extract_file``, noting each request and how many
    messages it brought back; slices of ``SLICE_ENV`` messages; a failure on demand."""
    from memex.core.extract import extract_file
    from memex.core.extract import mailbox as mailbox_module

    if os.environ.get(SLICE_ENV):
        mailbox_module.MAX_SLICE_MESSAGES = int(os.environ[SLICE_ENV])
    fail = Path(os.environ.get(FAIL_FILE_ENV, "/nonexistent"))
    if fail.exists() and fail.read_text() == str(start):
        raise ExtractionError("the message could not be read (on purpose)", "corrupt")
    result = extract_file(path, max_chars, kind, start=start)
    with open(os.environ[LOG_ENV], "a", encoding="utf-8") as log:
        log.write(f"{Path(path).name} {start} {len(result.members)}\n")
    return result


def requests(log: Path) -> list[tuple[str, int, int]]:
    """(file name, start, messages) of each request counting_extract answered."""
    if not log.exists():
        return []
    return [(name, int(start), int(n)) for name, start, n in
            (line.split() for line in log.read_text(encoding="utf-8").splitlines())]


ZEPPELIN_PDF = pdf_bytes("Quarterly zeppelin budget")


def three_messages() -> list[EmailMessage]:
    return [
        message("Lunch on Friday", "Shall we meet at noon by the harbour?\n"),
        message("Budget report", "The report is attached.\n",
                attachments=(("budget.pdf", ZEPPELIN_PDF, "application/pdf"),)),
        message("Holiday plans", "Iceland in March, with the glaciers.\n", sender="Dan <dan@example.com>"),
    ]


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "requests.log"
    monkeypatch.setenv(LOG_ENV, str(path))
    return path


@pytest.fixture
def counted(open_library, log: Path) -> Library:
    """A library whose extraction process notes every request in ``log``."""
    return open_library(reranker=False, extraction_worker=ExtractionWorker(timeout_s=60, target=COUNTING))


def mail_folder(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "mail"
    folder.mkdir()
    box = folder / "inbox.mbox"
    write_mbox(box, three_messages())
    return folder, box


def paths(lib: Library) -> list[str]:
    return sorted(d.path for d in lib.documents())


def found(lib: Library, query: str, filters: SearchFilters | None = None) -> list[str]:
    return [h.path for h in lib.find(query, filters=filters, mode="bm25").hits]


def test_an_mbox_holds_messages_and_attachments_linked_to_it(tmp_path: Path, counted: Library) -> None:
    folder, box = mail_folder(tmp_path)
    offsets = write_mbox(box, [])
    report = counted.index([folder])
    assert report.added == 1 and report.failed == 0
    budget = f"{box}/{offsets[1]}"
    attached = f"{budget}/attachment-1-budget.pdf"
    assert paths(counted) == sorted([str(box), *(f"{box}/{o}" for o in offsets), attached])
    assert counted.status().documents == 5  # the mailbox, three messages, one attachment

    hit = counted.find("zeppelin", mode="bm25").hits[0]  # a word only the attachment holds
    assert hit.path == attached and hit.kind == "pdf" and hit.container == str(box)
    parent = counted.document(hit.path.rsplit("/", 1)[0])
    assert parent is not None and parent.title == "Budget report"
    assert attached not in found(counted, "attachment")  # named by its file name, not by its key
    assert found(counted, "budget.pdf")[:1] == [attached]

    lunch = counted.find("harbour", mode="bm25").hits[0]
    assert lunch.path == f"{box}/0" and lunch.title == "Lunch on Friday" and lunch.container == str(box)
    assert dict(lunch.fields)["from"] == "Ann Example <ann@example.org>"
    assert dict(lunch.fields)["to"] == "Bob <bob@example.net>"
    assert dict(lunch.fields)["date"].startswith("2025-12-04T10:00:00")
    assert "Shall we meet at noon" in counted.page_text(lunch.document_id, 1)  # the preview's text


def in_year(year: int) -> SearchFilters:
    return SearchFilters(modified_after=calendar.timegm((year, 1, 1, 0, 0, 0)),
                         modified_before=calendar.timegm((year + 1, 1, 1, 0, 0, 0)))


def test_the_date_filter_uses_a_messages_own_date(tmp_path: Path, counted: Library) -> None:
    folder, box = mail_folder(tmp_path)
    write_mbox(box, [message("Old news", "The kestrel nested early.\n", date="Mon, 03 Jan 2011 09:00:00 +0000")])
    counted.index([folder])  # every file here was written today; the messages are dated 2011 and 2025
    in_2011, since_2025 = in_year(2011), in_year(2025)
    assert [p.rsplit("/", 1)[0] for p in found(counted, "kestrel", in_2011)] == [str(box)]
    assert found(counted, "kestrel", since_2025) == []
    assert found(counted, "zeppelin", since_2025)  # an attachment has its message's date
    assert found(counted, "zeppelin", in_2011) == []
    assert counted.find("kestrel", mode="bm25").hits[0].mtime == calendar.timegm((2011, 1, 3, 9, 0, 0))


def test_appended_mail_is_read_alone(tmp_path: Path, counted: Library, log: Path) -> None:
    folder, box = mail_folder(tmp_path)
    counted.index([folder])
    assert requests(log) == [("inbox.mbox", 0, 3)]
    before = {d.path: (d.id, d.indexed_at) for d in counted.documents()}
    old_end = box.stat().st_size

    write_mbox(box, [message("Walrus sighting", "A walrus came ashore at dawn.\n")])
    report = counted.index()
    assert report.updated == 1
    assert requests(log)[1:] == [("inbox.mbox", old_end, 1)]  # only the new message was read
    after = {d.path: (d.id, d.indexed_at) for d in counted.documents()}
    assert {p: after[p] for p in before if p != str(box)} == {p: v for p, v in before.items() if p != str(box)}
    assert set(after) - set(before) == {f"{box}/{old_end}"}
    for word in ("harbour", "zeppelin", "glaciers", "walrus"):
        assert found(counted, word), word
    counted.index()  # nothing changed: nothing read
    assert len(requests(log)) == 2


def test_a_mailbox_changed_in_place_is_read_again_keeping_unchanged_messages(
        tmp_path: Path, counted: Library, log: Path) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    box = folder / "inbox.mbox"
    messages = three_messages()
    write_mbox(box, messages)
    counted.index([folder])
    kept = {d.title: d.id for d in counted.documents() if d.kind == "email"}
    box.unlink()  # the first message deleted and the mailbox compacted: the others move up
    offsets = write_mbox(box, messages[1:])
    report = counted.index()
    assert report.updated == 1 and requests(log)[-1] == ("inbox.mbox", 0, 2)
    now = {d.title: (d.id, d.path) for d in counted.documents() if d.kind == "email"}
    assert now == {"Budget report": (kept["Budget report"], f"{box}/{offsets[0]}"),
                   "Holiday plans": (kept["Holiday plans"], f"{box}/{offsets[1]}")}
    assert report.chunks == 0  # found again under their new offsets: nothing written again
    assert found(counted, "harbour") == []
    assert found(counted, "zeppelin") == [f"{box}/{offsets[0]}/attachment-1-budget.pdf"]


def test_a_large_mailbox_is_read_in_slices_and_a_stop_goes_on_where_it_was(
        tmp_path: Path, counted: Library, log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SLICE_ENV, "1")
    folder, box = mail_folder(tmp_path)
    offsets = write_mbox(box, [])
    cancel = threading.Event()
    seen: list[IndexProgress] = []

    def progress(p: IndexProgress) -> None:
        seen.append(p)
        if p.current == str(box) and requests(log):
            cancel.set()  # stop once the first slice is in

    report = counted.index([folder], progress=progress, cancel=cancel)
    assert report.cancelled and requests(log) == [("inbox.mbox", 0, 1)]
    assert found(counted, "harbour") and not found(counted, "glaciers")  # the first slice stays

    report = counted.index(progress=seen.append)
    assert not report.cancelled and report.failed == 0
    assert requests(log)[1:] == [("inbox.mbox", offsets[1], 1), ("inbox.mbox", offsets[2], 1)]
    assert all(found(counted, word) for word in ("harbour", "zeppelin", "glaciers"))
    assert sum(p.current == str(box) and p.phase == "indexing" for p in seen) >= 3  # shown while read
    counted.index()
    assert len(requests(log)) == 3  # read to its end: nothing more to read


def test_a_slice_that_fails_keeps_the_mail_before_it_and_retrying_a_message_goes_on(
        tmp_path: Path, counted: Library, log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SLICE_ENV, "1")
    fail = tmp_path / "fail-at"
    monkeypatch.setenv(FAIL_FILE_ENV, str(fail))
    folder, box = mail_folder(tmp_path)
    offsets = write_mbox(box, [])
    fail.write_text(str(offsets[1]))
    report = counted.index([folder])
    assert [(Path(e.path).name, e.reason) for e in report.errors] == [("inbox.mbox", "corrupt")]
    assert [Path(f.path).name for f in counted.failures()] == ["inbox.mbox"]
    assert found(counted, "harbour") and not found(counted, "glaciers")

    fail.unlink()
    report = counted.retry([f"{box}/0"])  # a message: its mailbox is read again
    assert report.errors == () and counted.failures() == []
    assert requests(log)[-2:] == [("inbox.mbox", offsets[1], 1), ("inbox.mbox", offsets[2], 1)]
    assert all(found(counted, word) for word in ("harbour", "zeppelin", "glaciers"))


def test_deleting_or_renaming_a_mailbox_takes_its_messages_along(tmp_path: Path, counted: Library) -> None:
    folder, box = mail_folder(tmp_path)
    counted.index([folder])
    ids = {d.title: d.id for d in counted.documents()}
    embedded = counted.status().chunks_embedded

    moved = folder / "archive"
    moved.mkdir()
    os.rename(box, moved / "2025.mbox")
    report = counted.index()
    assert report.moved == 1 and report.chunks == 0 and report.embedded == 0
    new_box = moved / "2025.mbox"
    assert all(p == str(new_box) or p.startswith(f"{new_box}/") for p in paths(counted))
    assert {d.title: d.id for d in counted.documents()} == ids  # the same rows, vectors and all
    assert counted.status().chunks_embedded == embedded
    hit = counted.find("zeppelin", mode="bm25").hits[0]
    assert hit.container == str(new_box) and hit.path.startswith(f"{new_box}/")

    new_box.unlink()
    report = counted.index()
    assert report.removed == 1
    assert counted.documents() == [] and counted.status().documents == 0 and counted.status().chunks == 0
    assert found(counted, "zeppelin") == []


def test_copies_of_a_mailbox_show_each_message_once(tmp_path: Path, counted: Library) -> None:
    folder, box = mail_folder(tmp_path)
    (folder / "backup.mbox").write_bytes(box.read_bytes())
    counted.index([folder])
    hits = counted.find("glaciers", mode="bm25").hits
    assert len(hits) == 1 and len(hits[0].also_at) == 1
    assert {hits[0].container, hits[0].also_at[0].rsplit("/", 1)[0]} == {str(box), str(folder / "backup.mbox")}
    assert counted.sources()[0].documents == 10  # two mailboxes, each with three messages and an attachment
    assert counted.remove(folder).removed == 10
    assert counted.documents() == [] and counted.status().chunks == 0


def test_a_maildir_folder_and_an_html_eml(tmp_path: Path, counted: Library) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    maildir = mailbox.Maildir(folder / "Work")
    maildir.add(message("Quarterly planning", "The pelican project starts in April.\n"))
    maildir.add(message("Re: planning", "Agreed on the pelican timeline.\n", sender="Eve <eve@example.com>"))
    maildir.close()
    html = EmailMessage()
    html["From"] = "News <news@example.org>"
    html["Subject"] = "Weekly digest"
    html["Date"] = "Tue, 02 Jan 2024 08:00:00 +0000"
    html.set_content("<html><body><p>The <b>ocelot</b> exhibit opens.</p><script>hidden()</script></body></html>",
                     subtype="html")
    (folder / "digest.eml").write_bytes(html.as_bytes())
    report = counted.index([folder])
    assert report.added == 3 and report.failed == 0

    pelican = counted.find("pelican", mode="bm25").hits
    assert sorted(h.title or "" for h in pelican) == ["Quarterly planning", "Re: planning"]
    assert {dict(h.fields)["from"] for h in pelican} == {"Ann Example <ann@example.org>", "Eve <eve@example.com>"}
    assert all(h.container is None and "/Work/new/" in h.path for h in pelican)  # files of their own

    ocelot = counted.find("ocelot", mode="bm25").hits
    assert [Path(h.path).name for h in ocelot] == ["digest.eml"] and ocelot[0].title == "Weekly digest"
    assert "hidden()" not in counted.page_text(ocelot[0].document_id, 1)
    in_2024 = SearchFilters(modified_after=calendar.timegm((2024, 1, 1, 0, 0, 0)),
                            modified_before=calendar.timegm((2024, 2, 1, 0, 0, 0)))
    assert found(counted, "ocelot", in_2024) == [str(folder / "digest.eml")]  # its date, not the file's

    opened = Path(counted.open_target(pelican[0].path))  # a Maildir file opens as .eml
    assert opened.suffix == ".eml" and opened.is_relative_to(cache_dir())
    assert opened.read_bytes() == Path(pelican[0].path).read_bytes()
    assert counted.open_target(str(folder / "digest.eml")) == str(folder / "digest.eml")


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def test_opening_a_message_writes_it_into_the_cache_folder_only(tmp_path: Path, counted: Library) -> None:
    folder, box = mail_folder(tmp_path)
    offsets = write_mbox(box, [])
    counted.index([folder])
    before = _tree(tmp_path)

    opened = Path(counted.open_target(f"{box}/{offsets[1]}"))
    assert opened.name == "Budget report.eml" and opened.is_relative_to(cache_dir() / "opened")
    for place in (opened.parent, opened.parent.parent):
        assert place.stat().st_mode & 0o777 == 0o700
    text = opened.read_text(encoding="utf-8")
    assert "Subject: Budget report" in text and "The report is attached." in text
    assert not text.startswith("From ")  # an .eml file, not an mbox piece

    pdf = Path(counted.open_target(f"{box}/{offsets[1]}/attachment-1-budget.pdf"))
    assert pdf.suffix == ".pdf" and pdf.read_bytes() == ZEPPELIN_PDF and pdf.is_relative_to(cache_dir())
    assert counted.open_target(str(box)) == str(box)
    page = counted.render_page(f"{box}/{offsets[1]}/attachment-1-budget.pdf", 1, ["zeppelin"], 300)
    assert page.png.startswith(b"\x89PNG") and page.page_count == 1 and len(page.matches) == 1
    assert _tree(tmp_path) == before  # nothing written beside the mail (the cache is elsewhere)

    opened.write_text("stale", encoding="utf-8")
    assert Path(counted.open_target(f"{box}/{offsets[1]}")).read_text(encoding="utf-8") == text

    write_mbox(box, [message("Later", "Appended afterwards.\n")])  # grew: old messages stay where they were
    assert Path(counted.open_target(f"{box}/{offsets[2]}")).read_text(encoding="utf-8").count("glaciers") == 1
    box.write_bytes(b"From someone@example.org Thu Dec  4 10:00:00 2025\nSubject: x\n\ny\n\n" + box.read_bytes())
    with pytest.raises(LibraryError, match="changed since Memex read it") as err:
        counted.open_target(f"{box}/{offsets[1]}")
    assert "\n" not in str(err.value)
    box.unlink()
    with pytest.raises(LibraryError, match="no longer there"):
        counted.open_target(f"{box}/{offsets[1]}")
    for bad in ("", "relative/path.eml", "/nul\x00byte"):
        with pytest.raises(LibraryError, match="is not a document's path"):
            counted.open_target(bad)


def test_results_show_sender_and_subject(tmp_path: Path, counted: Library) -> None:
    folder, box = mail_folder(tmp_path)
    write_mbox(box, [message("Evil\x1b]52;c;aGk=\x07 subject", "The narwhal memo.\n",
                             sender="Mallory \u202e<m@example.org>")])
    counted.index([folder])
    lunch = counted.find("harbour", mode="bm25").hits
    lines = format_hits(lunch, color=False)
    assert lines[1] == "    From: Ann Example <ann@example.org> — Lunch on Friday"
    assert hit_dict(1, lunch[0])["fields"]["from"] == "Ann Example <ann@example.org>"
    assert hit_dict(1, lunch[0])["container"] == str(box)
    served = service_hit_dict(lunch[0])
    assert served["fields"] == dict(lunch[0].fields) and served["container"] == str(box)
    back = results_from_dict(results_dict(counted.find("harbour", mode="bm25"))).hits[0]  # the CLI via the service
    assert back.fields == lunch[0].fields and back.container == str(box)
    evil = "\n".join(format_hits(counted.find("narwhal", mode="bm25").hits, color=False))
    assert "\x1b" not in evil and "\x07" not in evil and "\u202e" not in evil
    assert "From: Mallory" in evil


def test_stops_in_the_middle_of_a_mailbox_never_count_as_crashes(tmp_path: Path, counted: Library, log: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A mailbox read in slices and stopped three times is read on, not given up as a file that
    brings Memex down (which three unfinished runs would otherwise mean)."""
    monkeypatch.setenv(SLICE_ENV, "1")
    folder, box = mail_folder(tmp_path)
    write_mbox(box, [message("Fourth", "The osprey dived.\n"), message("Fifth", "A heron waited.\n")])
    for run in range(3):
        cancel = threading.Event()

        def stop_after_a_slice(p: IndexProgress, cancel: threading.Event = cancel, run: int = run) -> None:
            if p.current == str(box) and len(requests(log)) > run:
                cancel.set()

        assert counted.index([folder], progress=stop_after_a_slice, cancel=cancel).cancelled
    assert [start for _, start, _ in requests(log)] == write_mbox(box, [])[:3]
    report = counted.index()
    assert report.failed == 0 and counted.failures() == []
    assert all(found(counted, w) for w in ("harbour", "zeppelin", "glaciers", "osprey", "heron"))


def test_a_message_read_again_replaces_its_attachments_and_a_failed_one_loses_them(
        tmp_path: Path, counted: Library) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    eml = folder / "report.eml"
    eml.write_bytes(message("Budget report", "Attached.\n",
                            attachments=(("budget.pdf", ZEPPELIN_PDF, "application/pdf"),)).as_bytes())
    counted.index([folder])
    assert paths(counted) == [str(eml), f"{eml}/attachment-1-budget.pdf"]
    assert counted.find("zeppelin", mode="bm25").hits[0].container == str(eml)

    eml.write_bytes(message("Budget report", "Sent without the attachment after all.\n").as_bytes())
    counted.index()
    assert paths(counted) == [str(eml)] and found(counted, "zeppelin") == []

    eml.write_bytes(message("Budget report", "Attached again.\n",
                            attachments=(("budget.pdf", ZEPPELIN_PDF, "application/pdf"),)).as_bytes())
    counted.index()
    assert found(counted, "zeppelin") == [f"{eml}/attachment-1-budget.pdf"]
    eml.write_bytes(b"")  # nothing left to read: a failed file
    report = counted.index()
    assert report.failed == 1 and paths(counted) == [str(eml)] and found(counted, "zeppelin") == []
    assert counted.status().documents == 0 and counted.status().failed == 1


def test_a_status_thunderbird_rewrites_in_place_reads_nothing_again(tmp_path: Path, counted: Library,
                                                                     log: Path) -> None:
    """Reading or tagging a message in Thunderbird rewrites its X-Mozilla-* headers in place;
    that alone reads no mail again. Deleting one there (its expunged bit) does."""
    folder = tmp_path / "mail"
    folder.mkdir()
    box = folder / "Inbox"
    (folder / "Inbox.msf").write_text("// index")
    messages = three_messages()
    for msg in messages:
        msg["X-Mozilla-Status"] = "0000"
        msg["X-Mozilla-Status2"] = "00000000"
        msg["X-Mozilla-Keys"] = " " * 40
    offsets = write_mbox(box, messages)
    counted.index([folder])
    assert requests(log) == [("Inbox", 0, 3)]

    def rewrite(old: bytes, new: bytes, after: int) -> None:
        data = box.read_bytes()
        at = data.index(old, after)
        box.write_bytes(data[:at] + new + data[at + len(old):])

    rewrite(b"X-Mozilla-Status: 0000", b"X-Mozilla-Status: 0001", offsets[1])  # read
    rewrite(b"X-Mozilla-Keys: " + b" " * 40, b"X-Mozilla-Keys: $label1" + b" " * 33, offsets[2])  # tagged
    counted.index()
    assert len(requests(log)) == 1  # nothing read again
    assert Path(counted.open_target(f"{box}/{offsets[1]}")).read_bytes().count(b"X-Mozilla-Status: 0001") == 1

    rewrite(b"X-Mozilla-Status: 0000", b"X-Mozilla-Status: 0008", offsets[0])  # deleted, not yet compacted
    counted.index()
    assert requests(log)[1:] == [("Inbox", 0, 2)]
    assert found(counted, "harbour") == [] and found(counted, "glaciers") == [f"{box}/{offsets[2]}"]


def test_a_mailboxs_head_hashes_the_same_however_it_is_read(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from memex.core.indexing import mailboxes

    one = (b"From - Thu Dec 04 10:00:00 2025\nX-Mozilla-Status: 0001\nX-Mozilla-Status2: 00000000\n"
           b"X-Mozilla-Keys:       \nFrom: a@example.org\n\nbody\n\n")
    box = tmp_path / "box"
    box.write_bytes(one * 60)
    flipped = tmp_path / "flipped"  # read and tagged in Thunderbird: the same but for its status
    flipped.write_bytes(one.replace(b"0001", b"0005").replace(b"Keys:       ", b"Keys: $lab1 ") * 60)
    deleted = tmp_path / "deleted"
    deleted.write_bytes(one.replace(b"0001", b"0009") + one * 59)
    digests: dict[str, set[str]] = {}
    for name, path in (("box", box), ("flipped", flipped), ("deleted", deleted)):
        with open(path, "rb") as fh:
            for block, step in ((1, 7), (5, 1), (64, 100), (1 << 20, 5000)):
                monkeypatch.setattr(mailboxes, "_BLOCK", block)
                head = mailboxes.MailboxHead(fh.fileno())
                for to in range(step, len(one) * 60 + step, step):
                    assert head.advance(min(to, len(one) * 60))
                digests.setdefault(name, set()).add(head.digest())
    assert all(len(found) == 1 for found in digests.values())
    (box_digest,), (flipped_digest,), (deleted_digest,) = digests.values()
    assert box_digest.split()[0] != flipped_digest.split()[0]  # the bytes differ ...
    assert box_digest.split()[1] == flipped_digest.split()[1]  # ... but not what Memex reads
    assert box_digest.split()[1] != deleted_digest.split()[1]  # a deletion there is a change
