"""One exception hierarchy for Memex; every message is written for the person reading it."""

from __future__ import annotations


class MemexError(Exception):
    """Base of every error Memex raises on purpose. ``str(err)`` is a user-facing sentence."""


class LibraryError(MemexError):
    """The library file cannot be opened, created or used."""


class StoreSetupError(LibraryError):
    """SQLite, FTS5 or sqlite-vec is missing or does not work."""


class ModelError(MemexError):
    """A model file is missing, corrupt, or cannot run."""


class ChecksumMismatch(ModelError):
    """A model file's sha256 differs from the pinned one; it is refused."""


class ExtractionError(MemexError):
    """A file could not be turned into text. ``reason`` is a short machine-readable tag."""

    reason = "failed"

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class UnsupportedFile(ExtractionError):
    reason = "unsupported"


class EncryptedFile(ExtractionError):
    reason = "encrypted"


class EmptyFile(ExtractionError):
    reason = "empty"


class NoTextLayer(ExtractionError):
    """A PDF whose pages are images only (a scan without OCR)."""

    reason = "no-text"


class BinaryFile(ExtractionError):
    """A file with a text extension whose bytes are not text."""

    reason = "binary"


class CorruptFile(ExtractionError):
    reason = "corrupt"


class ExtractionTimeout(ExtractionError):
    reason = "timeout"


class ExtractorCrashed(ExtractionError):
    """The isolated extraction process died (crash or memory cap) on this file."""

    reason = "crashed"


class IndexingCancelled(MemexError):
    """Raised inside the indexer when the caller asked it to stop."""


# The reason tags above (and the scan's), in plain words: one wording for the window and the CLI.
REASON_WORDS = {
    "encrypted": "password-protected", "no-text": "scanned pages without text", "empty": "empty",
    "binary": "not text", "corrupt": "damaged", "timeout": "took too long to read",
    "crashed": "made the reader crash", "unsupported": "unsupported type", "unreadable": "cannot be read",
    "missing": "not found", "truncated": "only partly indexed", "too-large": "too large",
    "outside-link": "link outside the folder", "failed": "could not be read",
    "ocr-failed": "a scanned page could not be read", "ocr-unavailable": "OCR cannot start",
    # Entries the scan passes over (see Library.skipped_files).
    "not-a-file": "not a regular file", "unreadable-folder": "folder cannot be opened",
    "broken-link": "broken link", "bad-name": "name cannot be read", "hidden": "hidden",
    "ignored": "ignored by a pattern",
}


def reason_words(reason: str) -> str:
    """Why a file could not be read, in plain words (an unknown tag as it is)."""
    return REASON_WORDS.get(reason, reason)
