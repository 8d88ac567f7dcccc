"""Mail the tests make: messages (stdlib ``email``), mbox files (stdlib ``mailbox``) and small PDFs
to attach, shared by the mail extraction, indexing, robustness and retry tests."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage
from pathlib import Path

import pymupdf

DATE = "Thu, 04 Dec 2025 10:00:00 +0100"
DATE_POSIX = 1764838800.0
SENDER = "Ann Example <ann@example.org>"


def pdf_bytes(text: str) -> bytes:
    """A one-page PDF with ``text`` in its text layer."""
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), text)
    data = bytes(doc.tobytes())
    doc.close()
    return data


def message(subject: str, body: str, sender: str = SENDER, to: str = "Bob <bob@example.net>",
            attachments: tuple[tuple[str, bytes, str], ...] = (), date: str = DATE) -> EmailMessage:
    """A message with a text body and ``attachments`` given as (file name, bytes, "type/subtype")."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = date
    msg.set_content(body)
    for name, data, ctype in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def write_mbox(path: Path, messages: list[EmailMessage]) -> list[int]:
    """Write (or add to) the mailbox with the stdlib (mboxo: body "From " lines escaped); the
    byte offsets of every message's "From " line."""
    box = mailbox.mbox(path)
    for msg in messages:
        box.add(msg)
    box.flush()
    box.close()
    data = path.read_bytes()
    return [0] + [i + 1 for i in range(len(data)) if data.startswith(b"\nFrom MAILER-DAEMON", i)]
