"""Mail read into extractions: .eml and Maildir messages, mbox mailboxes read in slices,
attachments as members. Every message and mailbox is made here with the stdlib."""

from __future__ import annotations

import mailbox
import os
import tempfile
from email.message import EmailMessage
from pathlib import Path

import pymupdf
import pytest
from mailgen import DATE_POSIX, pdf_bytes, write_mbox
from mailgen import message as _message
from memex.core.errors import EmptyFile, ExtractionError
from memex.core.extract import detect_kind, extract_file
from memex.core.extract import mail as mail_module
from memex.core.extract import mailbox as mailbox_module
from memex.core.extract.mail import extract_mail, safe_file_name
from memex.core.types import Extraction


def message(subject: str, body: str, sender: str = "Ann Example <ann@example.org>",
            attachments: tuple[tuple[str, bytes, str], ...] = ()) -> EmailMessage:
    return _message(subject, body, sender, "Bob <bob@example.net>, carol@example.net", attachments)


def three_messages() -> list[EmailMessage]:
    return [
        message("Lunch on Friday", "Shall we meet at noon?\nFrom here it is a short walk.\n"),
        message("Budget report", "The report is attached.\n",
                attachments=(("budget.pdf", pdf_bytes("Quarterly zeppelin budget"), "application/pdf"),)),
        message("Holiday plans", "Iceland in March.\n", sender="Dan <dan@example.com>"),
    ]


def texts(extraction: Extraction) -> str:
    return "\n".join(p.text for p in extraction.pages)


# --- mbox -----------------------------------------------------------------------------------


def test_mbox_messages_are_members_with_their_attachments(tmp_path: Path) -> None:
    box = tmp_path / "archive.mbox"
    offsets = write_mbox(box, three_messages())
    assert detect_kind(box) == "mbox"
    result = extract_file(box)
    assert result.kind == "mbox" and result.title == "archive.mbox"
    assert result.resume_at is None
    assert [m.key for m in result.members] == [str(o) for o in offsets]
    assert [m.name for m in result.members] == ["Lunch on Friday", "Budget report", "Holiday plans"]
    lunch, report, holiday = (m.extraction for m in result.members)
    assert lunch.kind == "email" and lunch.title == "Lunch on Friday"
    assert dict(lunch.fields)["from"] == "Ann Example <ann@example.org>"
    assert "bob@example.net" in dict(lunch.fields)["to"]
    assert dict(lunch.fields)["date"] == "2025-12-04T10:00:00+01:00"
    assert lunch.date == DATE_POSIX
    assert texts(lunch).startswith("From: Ann Example <ann@example.org>\nTo: ")
    assert "Subject: Lunch on Friday\n\nShall we meet at noon?" in texts(lunch)
    # The writer escaped the body line as ">From here"; it reads back as written.
    assert "\nFrom here it is a short walk." in texts(lunch) and ">From" not in texts(lunch)
    assert dict(holiday.fields)["from"] == "Dan <dan@example.com>"
    assert not lunch.members and not holiday.members
    [attachment] = report.members
    assert attachment.name == "budget.pdf" and "/" not in attachment.key
    assert attachment.key == "attachment-1-budget.pdf"
    assert attachment.extraction.kind == "pdf"
    assert "Quarterly zeppelin budget" in texts(attachment.extraction)
    assert "Attachments: budget.pdf" in texts(report)


def test_mbox_read_from_a_message_offset(tmp_path: Path) -> None:
    box = tmp_path / "archive.mbox"
    offsets = write_mbox(box, three_messages())
    result = extract_file(box, start=offsets[1])
    assert [m.key for m in result.members] == [str(offsets[1]), str(offsets[2])]
    assert [m.name for m in result.members] == ["Budget report", "Holiday plans"]
    assert result.members[0].extraction.members  # the attachment comes along


def test_appended_mail_is_read_from_the_old_end(tmp_path: Path) -> None:
    box = tmp_path / "Inbox.mbox"
    write_mbox(box, three_messages())
    old_end = box.stat().st_size
    more = mailbox.mbox(box)
    more.add(message("Late news", "Appended after the first read.\n"))
    more.flush()
    more.close()
    result = extract_file(box, start=old_end)
    assert [m.key for m in result.members] == [str(old_end)]
    assert result.members[0].name == "Late news"
    assert "Appended after the first read." in texts(result.members[0].extraction)


@pytest.mark.parametrize("shift", [-7, 1, 10**9])
def test_a_start_off_a_message_boundary_is_refused_as_moved(tmp_path: Path, shift: int) -> None:
    box = tmp_path / "archive.mbox"
    offsets = write_mbox(box, three_messages())
    with pytest.raises(ExtractionError) as caught:
        extract_file(box, start=offsets[2] + shift)
    assert caught.value.reason == "moved"


def test_mboxrd_escaping_loses_one_quote(tmp_path: Path) -> None:
    box = tmp_path / "rd.mbx"
    box.write_bytes(
        b"From ann@example.org Thu Dec  4 10:00:00 2025\n"
        b"From: ann@example.org\nSubject: Quoting\n\n"
        b">From the start\n>>From quoted\nkept >From inside\n\n"
        b"From bob@example.org Thu Dec  4 11:00:00 2025\n"
        b"From: bob@example.org\nSubject: Second\n\nFrom a body line without a date\n\n"
        b"From c@example.org Thu Dec  4 12:00:00 2025\n\n"  # an empty message is no message
    )
    assert detect_kind(box) == "mbox"
    first, second = extract_file(box).members
    body = texts(first.extraction)
    assert "\nFrom the start\n>From quoted\nkept >From inside" in body
    # An unescaped body line that is no "From sender date" line does not split a message.
    assert second.name == "Second" and "From a body line without a date" in texts(second.extraction)


def test_thunderbird_folder_without_extension_is_an_mbox(tmp_path: Path) -> None:
    inbox = tmp_path / "Inbox"
    write_mbox(inbox, three_messages())
    assert detect_kind(inbox) == "mbox"  # a "From " line followed by headers
    (tmp_path / "Inbox.msf").write_bytes(b"// <!-- <mdb:mork:z v=\"1.4\"/> -->\n")
    assert detect_kind(inbox) == "mbox"
    assert len(extract_file(inbox).members) == 3
    sent = tmp_path / "Sent"  # a Thunderbird folder that starts with an unusual From line
    sent.write_bytes(b"From - \nSubject: x\n\nhello\n")
    (tmp_path / "Sent.msf").write_bytes(b"")
    assert detect_kind(sent) == "mbox"
    news = tmp_path / "News"  # a folder name that is also a conventional text file name
    write_mbox(news, [message("Press", "Release.\n")])
    (tmp_path / "News.msf").write_bytes(b"")
    assert detect_kind(news) == "mbox"
    note = tmp_path / "notes"  # plain text that happens to start with "From"
    note.write_text("From here to there: a note.\nNothing else.\n")
    assert detect_kind(note) == "text"


def test_a_huge_message_is_read_for_its_headers_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mailbox_module, "MAX_MESSAGE_BYTES", 200_000)
    monkeypatch.setattr(mail_module, "MAX_MESSAGE_BYTES", 200_000)
    huge = message("Enormous scan", "zeppelin " * 100_000)  # ~900 KB of body
    box = tmp_path / "big.mbox"
    write_mbox(box, [huge, message("After the big one", "Still read.\n")])
    big, after = extract_file(box).members
    assert big.name == "Enormous scan" and big.extraction.truncated
    assert "zeppelin" not in texts(big.extraction)
    assert "too large" in texts(big.extraction)
    assert dict(big.extraction.fields)["from"] == "Ann Example <ann@example.org>"
    assert after.name == "After the big one"
    eml = tmp_path / "big.eml"
    eml.write_bytes(huge.as_bytes())
    single = extract_file(eml)
    assert single.title == "Enormous scan" and single.truncated and "zeppelin" not in texts(single)


def test_a_slice_stops_at_its_budget_and_says_where_to_go_on(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mailbox_module, "MAX_SLICE_MESSAGES", 2)
    box = tmp_path / "archive.mbox"
    offsets = write_mbox(box, three_messages())
    first = extract_file(box)
    assert len(first.members) == 2 and first.resume_at == offsets[2]
    rest = extract_file(box, start=first.resume_at)
    assert [m.name for m in rest.members] == ["Holiday plans"] and rest.resume_at is None


def test_a_slice_stops_at_its_character_budget(tmp_path: Path) -> None:
    box = tmp_path / "archive.mbox"
    offsets = write_mbox(box, [message(f"Note {i}", "word " * 200) for i in range(5)])
    first = extract_file(box, max_chars=2500)
    assert 1 <= len(first.members) < 5
    assert first.resume_at == offsets[len(first.members)]
    assert all(not m.extraction.truncated for m in first.members)


def test_a_file_that_is_no_mailbox_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "fake.mbox"
    fake.write_text("just some words\n")
    with pytest.raises(ExtractionError):
        extract_file(fake)
    blank = tmp_path / "blank.mbox"
    blank.write_text("\n\n\n")
    with pytest.raises(EmptyFile):
        extract_file(blank)


# --- single messages ------------------------------------------------------------------------


def test_maildir_message_files_are_email(tmp_path: Path) -> None:
    maildir = mailbox.Maildir(tmp_path / "Mail", create=True)
    key = maildir.add(message("Maildir hello", "Sent to a Maildir.\n"))
    maildir.close()
    [stored] = list((tmp_path / "Mail" / "new").iterdir())
    assert key in stored.name
    assert detect_kind(stored) == "email"
    # Delivered and seen: moved to cur/ with flags; the host name ends like an extension.
    seen = tmp_path / "Mail" / "cur" / "1764838800.M1P2Q3.mail.example.org:2,S"
    stored.rename(seen)
    assert detect_kind(seen) == "email"
    result = extract_file(seen)
    assert result.kind == "email" and result.title == "Maildir hello"
    assert result.date == DATE_POSIX and "Sent to a Maildir." in texts(result)
    # The same folder names without a Maildir around them are not mail.
    other = tmp_path / "project" / "new"
    other.mkdir(parents=True)
    (other / "settings.yaml").write_text("name: x\nvalue: 2\n")
    assert detect_kind(other / "settings.yaml") == "yaml"


def test_html_only_body_is_read_as_text(tmp_path: Path) -> None:
    msg = EmailMessage()
    msg["From"] = "news@example.org"
    msg["Subject"] = "Newsletter"
    msg.set_content(
        "<html><head><style>p { color: red }</style><title>T</title></head><body>"
        "<script>alert('tracking')</script><h1>Winter issue</h1><p>Glaciers <b>move</b> slowly.</p>"
        "</body></html>", subtype="html")
    eml = tmp_path / "newsletter.eml"
    eml.write_bytes(msg.as_bytes())
    assert detect_kind(eml) == "email"
    text = texts(extract_file(eml))
    assert "Winter issue" in text and "Glaciers move slowly." in text
    for leftover in ("<", "color: red", "alert", "tracking"):
        assert leftover not in text


def test_plain_text_wins_over_its_html_alternative(tmp_path: Path) -> None:
    msg = message("Both", "The plain words.\n")
    msg.add_alternative("<p>The <i>html</i> words.</p>", subtype="html")
    eml = tmp_path / "both.eml"
    eml.write_bytes(msg.as_bytes())
    text = texts(extract_file(eml))
    assert "The plain words." in text and "html words" not in text


def test_hostile_attachment_names_stay_in_the_private_folder(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    scratch_root = tmp_path / "tmp" / "a" / "b"
    scratch_root.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(scratch_root))
    pdf = pdf_bytes("Hostile but readable")
    msg = message("Attachments from a stranger", "See attached.\n", attachments=(
        ("../../x.pdf", pdf, "application/pdf"),
        ("/etc/passwd.txt", b"root words\n", "text/plain"),
        ("..\\..\\win\x07do\x1bws.pdf", pdf, "application/pdf"),
        ("n" * 500 + ".txt", b"long name words\n", "text/plain"),
    ))
    eml = tmp_path / "hostile.eml"
    eml.write_bytes(msg.as_bytes())
    result = extract_file(eml)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [eml]  # nothing left, nothing outside
    assert not list(scratch_root.iterdir())
    names = [m.name for m in result.members]
    assert names[0] == "x.pdf" and names[1] == "passwd.txt"
    for member in result.members:
        assert "/" not in member.key and "\\" not in member.key and "/" not in member.name
        assert not any(ord(ch) < 32 for ch in member.key + member.name)
        assert len(member.key.encode()) < 255
    assert "Hostile but readable" in texts(result.members[0].extraction)
    assert "long name words" in texts(result.members[3].extraction)


@pytest.mark.parametrize("name", [
    "../../x.pdf", "..", "/", "a/b/../c.txt", "nul\x00byte.pdf", "\r\nline.txt", ".hidden",
    "ü" * 400 + ".pdf", "con:aux?*.doc", "x" * 500,
])
def test_safe_file_name_is_one_harmless_component(name: str) -> None:
    safe = safe_file_name(name)
    assert safe and "/" not in safe and "\\" not in safe and not safe.startswith(".")
    assert not any(ord(ch) < 32 or ch in '<>:"|?*' for ch in safe)
    assert len(safe.encode()) <= 240
    if name.endswith(".pdf"):
        assert safe.endswith(".pdf")


def test_broken_headers_and_charsets_never_raise(tmp_path: Path) -> None:
    raw = (
        b"From: =?utf-8?q?J=C3=BCrgen?= <<broken@@example>>\r\n"
        b"To: ,,,<>;;\r\n"
        b"Cc: =?x-no-such-charset?b?!!!?=\r\n"
        b"Subject: =?iso-8859-1?q?Caf=E9?= \xc3\xa9t\xe9 =?utf-8?b?bad base64?=\r\n"
        b"Date: Thu, 45 Foo 2026 99:99 +9999\r\n"
        b"Content-Type: multipart/mixed; boundary=\"never-closed\"\r\n\r\n"
        b"--never-closed\r\nContent-Type: text/plain; charset=x-nonsense\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nbm90IHZhbGlkIGJhc2U2NC*&^%\r\n"
        b"--never-closed\r\nContent-Type: text/plain; charset=\"utf-8\"\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\nr=C3=A9sum=C3=A9 =ZZ broken\r\n"
        b"--never-closed\r\nContent-Type: text/plain; charset=zlib\r\n\r\nnot compressed\r\n"
        b"--never-closed\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        b"na\xc3\xafve but labelled ascii\r\n"
        b"--never-closed\r\nContent-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename*=x-bad''%FF%FE%00.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!!\r\n"
    )
    eml = tmp_path / "broken.eml"
    eml.write_bytes(raw)
    result = extract_file(eml)
    assert result.title is not None and "Caf" in result.title
    assert result.date is None and "date" not in dict(result.fields)
    text = texts(result)
    assert "résumé" in text and "not compressed" in text and "naïve but labelled ascii" in text
    assert "Attachments:" in text  # the unreadable PDF is still findable by its name
    for value in (result.title, text, *dict(result.fields).values()):
        value.encode("utf-8")  # no lone surrogates left


def test_unsupported_attachments_and_the_count_cap_keep_their_names(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mail_module, "MAX_ATTACHMENTS", 3)
    attachments = tuple((f"note{i}.txt", f"note number {i}\n".encode(), "text/plain") for i in range(5))
    attachments += (("photo.raw", os.urandom(2000), "application/octet-stream"),)
    eml = tmp_path / "many.eml"
    eml.write_bytes(message("Many", "Lots attached.\n", attachments=attachments).as_bytes())
    result = extract_file(eml)
    assert [m.name for m in result.members] == ["note0.txt", "note1.txt", "note2.txt"]
    listed = texts(result).rsplit("Attachments: ", 1)[1]
    assert listed == "note0.txt, note1.txt, note2.txt, note3.txt, note4.txt, photo.raw"


def test_forwarded_messages_nest_no_deeper_than_the_cap(tmp_path: Path) -> None:
    inner = message("Level 0", "The innermost words.\n",
                    attachments=(("deep.txt", b"deepest attachment\n", "text/plain"),))
    for level in range(1, 6):
        outer = message(f"Level {level}", f"Forwarding level {level}.\n")
        outer.add_attachment(inner)
        inner = outer
    eml = tmp_path / "forwarded.eml"
    eml.write_bytes(inner.as_bytes())
    result = extract_file(eml)
    depth, current = 0, result
    while current.members:
        [member] = current.members
        assert member.name.endswith(".eml") and member.extraction.kind == "email"
        current, depth = member.extraction, depth + 1
    assert depth == mail_module.MAX_DEPTH
    assert "Attachments: Level 1.eml" in texts(current)  # beyond the cap: listed by name


def test_extract_mail_is_the_dispatch_target(tmp_path: Path) -> None:
    eml = tmp_path / "one.eml"
    eml.write_bytes(message("Direct", "Body words.\n").as_bytes())
    result = extract_mail(eml, "email", 1000)
    assert result.title == "Direct" and result.pages[0].text.endswith("Body words.")
    assert extract_mail(eml, "email", 40).truncated


def test_messages_deleted_in_thunderbird_are_left_out(tmp_path: Path) -> None:
    kept, deleted = message("Kept", "Still here.\n"), message("Deleted", "Gone.\n")
    kept["X-Mozilla-Status"] = "0001"
    deleted["X-Mozilla-Status"] = "0009"  # read + expunged, until the folder is compacted
    inbox = tmp_path / "Inbox"
    write_mbox(inbox, [deleted, kept])
    (tmp_path / "Inbox.msf").write_bytes(b"")
    assert [m.name for m in extract_file(inbox).members] == ["Kept"]


def test_windows_line_ends_in_an_mbox(tmp_path: Path) -> None:
    box = tmp_path / "export.mbox"
    box.write_bytes(
        b"From a@example.org Thu Dec  4 10:00:00 2025\r\nFrom: a@example.org\r\nSubject: One\r\n\r\n"
        b">From the top\r\n\r\n"
        b"From b@example.org Thu Dec  4 11:00:00 2025\r\nFrom: b@example.org\r\nSubject: Two\r\n\r\nbody\r\n")
    one, two = extract_file(box).members
    assert (one.name, two.name) == ("One", "Two")
    assert two.key == str(box.read_bytes().index(b"From b@"))
    assert "\nFrom the top" in texts(one.extraction) and "\r" not in texts(one.extraction)


def test_attachments_without_text_are_listed_and_scans_kept_for_ocr(tmp_path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    pix = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 64, 64), False)
    pix.clear_with(200)
    page.insert_image(page.rect, pixmap=pix)
    scan = bytes(doc.tobytes())
    eml = tmp_path / "scan.eml"
    eml.write_bytes(message("Scanned letter", "Here is the scan.\n", attachments=(
        ("scan.pdf", scan, "application/pdf"), ("blank.txt", b"   \n", "text/plain"))).as_bytes())
    result = extract_file(eml)
    # The scan has no text but a picture for OCR: kept, its page waiting; the blank file is only named.
    assert [(m.key, m.extraction.ocr_pages) for m in result.members] == [("attachment-1-scan.pdf", (1,))]
    assert texts(result).endswith("Attachments: scan.pdf, blank.txt")


def test_encoded_names_and_raw_utf8_headers_are_decoded(tmp_path: Path) -> None:
    raw = (
        "From: Zoë <zoe@example.org>\n"  # raw UTF-8, as many mailers send it
        "Subject: =?utf-8?b?UmVuw6llIHZpc2l0?=\n"
        "Date: Thu, 4 Dec 2025 10:00:00\n"  # no zone: taken as UTC
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=b\n\n"
        "--b\nContent-Type: text/plain; charset=utf-8\n\nBonjour.\n"
        "--b\nContent-Type: text/plain; name=\"=?utf-8?q?r=C3=A9sum=C3=A9.txt?=\"\n"
        "Content-Disposition: attachment; filename=\"=?utf-8?q?r=C3=A9sum=C3=A9.txt?=\"\n\n"
        "curriculum words\n--b--\n"
    ).encode()
    eml = tmp_path / "encoded.eml"
    eml.write_bytes(raw)
    result = extract_file(eml)
    assert result.title == "Renée visit"
    assert dict(result.fields)["from"] == "Zoë <zoe@example.org>"
    assert result.date == 1764842400.0 and dict(result.fields)["date"] == "2025-12-04T10:00:00+00:00"
    [member] = result.members
    assert member.name == "résumé.txt" and member.key == "attachment-1-résumé.txt"
    assert "curriculum words" in texts(member.extraction)


def test_a_cut_message_keeps_its_headers_and_attachment_names(tmp_path: Path) -> None:
    eml = tmp_path / "long.eml"
    eml.write_bytes(message("Long", "word " * 5000, attachments=(
        ("minutes.txt", b"minutes of the meeting\n", "text/plain"),)).as_bytes())
    result = extract_mail(eml, "email", 400)
    text = texts(result)
    assert result.truncated and len(text) <= 400
    assert text.startswith("From: Ann Example") and "Subject: Long\n\nword word" in text
    assert text.endswith("\n\nAttachments: minutes.txt")


def test_mail_is_a_file_type_by_its_everyday_names() -> None:
    from memex.core.extract.registry import kind_named

    assert kind_named("mail") == kind_named("eml") == kind_named("message") == "email"
    assert kind_named("mbox") == kind_named(".MBX") == "mbox"


def test_slices_of_deleted_messages_are_empty_not_failed(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mailbox_module, "MAX_SLICE_MESSAGES", 2)
    gone = []
    for i in range(3):
        msg = message(f"Gone {i}", "Deleted.\n")
        msg["X-Mozilla-Status"] = "0008"
        gone.append(msg)
    box = tmp_path / "Trash.mbox"
    offsets = write_mbox(box, [*gone, message("Kept", "Still here.\n")])
    first = extract_file(box)
    assert first.members == () and first.resume_at == offsets[2]  # the budget counts them too
    rest = extract_file(box, start=first.resume_at)
    assert [m.name for m in rest.members] == ["Kept"] and rest.resume_at is None
    appended = box.stat().st_size
    more = mailbox.mbox(box)
    more.add(gone[0])
    more.flush()
    more.close()
    tail = extract_file(box, start=appended)
    assert tail.members == () and tail.resume_at is None
    monkeypatch.setattr(mailbox_module, "MAX_SLICE_MESSAGES", 2000)
    all_gone = tmp_path / "Deleted.mbox"
    write_mbox(all_gone, gone)
    with pytest.raises(EmptyFile):
        extract_file(all_gone)


def test_mangled_messages_never_raise_anything_but_extraction_errors(tmp_path: Path) -> None:
    import random

    rng = random.Random(14)
    msg = message("Tëst =?utf-8?q?x?=", "Hello wörld\nFrom here\n",
                  attachments=(("a.txt", b"attached words\n", "text/plain"),))
    msg.add_attachment(message("Inner", "inner words\n"))
    base = msg.as_bytes()
    tokens = [b"\n", b"\r\n", b"=?", b"?=", b"?q?", b"?b?", b"--", b"boundary=", b"charset=zlib",
              b"\x00", b"\xff\xfe", b";", b'"', b"Content-Type: message/rfc822\n", b">From ",
              b"filename*=", b"%00", b"../", b"base64", b"multipart/mixed"]
    eml, box = tmp_path / "m.eml", tmp_path / "m.mbox"
    for _ in range(80):
        data = bytearray(base)
        for _ in range(rng.randint(1, 12)):
            pos = rng.randrange(len(data))
            if rng.random() < 0.5:
                data[pos:pos] = rng.choice(tokens)
            else:
                del data[pos:pos + rng.randint(1, 40)]
        eml.write_bytes(bytes(data))
        box.write_bytes(b"From a@b Thu Dec  4 10:00:00 2025\n" + bytes(data))
        for path in (eml, box):
            try:
                result = extract_file(path)
            except ExtractionError:
                continue
            for member in result.members:
                (member.key + member.name + texts(member.extraction)).encode("utf-8")
            (texts(result) + (result.title or "")).encode("utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.eml", "m.mbox"]


def test_the_message_text_shows_its_date_in_words(tmp_path):
    """The text a person reads (and a snippet shows) carries "4 December 2025, 10:00 +00:00", not
    an ISO stamp; the ISO form stays in the fields."""
    path = tmp_path / "dated.eml"
    path.write_bytes(b"From: Ann <ann@example.org>\nSubject: Kiln schedule\n"
                     b"Date: Thu, 4 Dec 2025 10:00:00 +0100\n\nThe kiln fires on Friday.\n")
    result = extract_file(path)
    text = result.pages[0].text
    assert "Date: 4 December 2025, 10:00 +01:00" in text and "T10:00" not in text
    assert dict(result.fields)["date"] == "2025-12-04T10:00:00+01:00"
