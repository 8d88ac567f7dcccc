"""The record kept next to an installed model: which files it has and their sha256.

``memex-lock.json`` is written when a model is downloaded or imported, after its files were
verified (against the catalogue's pinned sums where there are any, else against the sums the
Hub reported for them). Every later load checks each file against this record, so a file that
changes on disk afterwards is refused (trust on first download).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ModelError
from .safety import SETTINGS_MAX, checked_file, read_bounded

LOCK_FILE = "memex-lock.json"
FORMAT = 1
SHA256_HEX = frozenset("0123456789abcdef")


def is_sha256(value: object) -> bool:
    """Whether ``value`` is 64 lowercase hex digits."""
    return isinstance(value, str) and len(value) == 64 and set(value) <= SHA256_HEX


@dataclass(frozen=True)
class FileRecord:
    """One installed file. ``verified`` says what its sha256 was checked against first:
    "catalogue" (a pinned sum), "hub" (the sum the Hub reported), "import" or "first-use"."""

    sha256: str
    size: int
    path: str | None = None  # where it came from in the repository
    verified: str = "hub"


@dataclass(frozen=True)
class InstallRecord:
    name: str
    kind: str  # "embedder" | "reranker"
    source: str  # "hub" | "import" | "local"
    files: dict[str, FileRecord]
    repo: str | None = None
    revision: str | None = None  # as asked for (None: the repository's main branch)
    commit: str | None = None  # what that resolved to when the files were fetched
    origin: str | None = None  # an imported model's source folder
    installed_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    safety_checked: bool = False  # model.onnx passed model_safety.check_external_data

    def to_json(self) -> str:
        raw = asdict(self)
        raw["format"] = FORMAT
        return json.dumps(raw, indent=2, sort_keys=True)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files.values())


def _parse(raw: Any, where: Path) -> InstallRecord:
    def bad(why: str) -> ModelError:
        return ModelError(f"The model record {where} is damaged ({why}); remove the model and install it again.")

    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise bad("unknown format")
    files_raw = raw.get("files")
    if not isinstance(files_raw, dict) or not files_raw:
        raise bad("no files")
    files: dict[str, FileRecord] = {}
    for local, entry in files_raw.items():
        if not isinstance(entry, dict) or not is_sha256(entry.get("sha256")) or not isinstance(entry.get("size"), int):
            raise bad(f"the entry for {local!r} has no valid sha256 and size")
        if Path(local).name != local or local in (LOCK_FILE, ".", ".."):
            raise bad(f"{local!r} is not a plain file name")
        files[local] = FileRecord(entry["sha256"], entry["size"], entry.get("path"), str(entry.get("verified", "hub")))
    kind = raw.get("kind")
    if kind not in ("embedder", "reranker"):
        raise bad("unknown kind")
    text = {k: raw.get(k) for k in ("repo", "revision", "commit", "origin")}
    return InstallRecord(
        name=str(raw.get("name", where.parent.name)), kind=kind, source=str(raw.get("source", "hub")), files=files,
        **{k: v if isinstance(v, str) else None for k, v in text.items()},
        installed_at=str(raw.get("installed_at", "")), safety_checked=bool(raw.get("safety_checked", False)))


def read_record(folder: Path) -> InstallRecord | None:
    """The folder's record; None when it has none; ModelError when it cannot be read."""
    path = folder / LOCK_FILE
    try:
        data = read_bounded(checked_file(folder, LOCK_FILE), SETTINGS_MAX)  # no link out; a few kB at most
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ModelError(f"The model record {path} cannot be read: {exc.strerror or exc}") from exc
    try:
        raw = json.loads(data.decode("utf-8"))
    except ValueError as exc:
        raise ModelError(f"The model record {path} is damaged (not JSON); remove the model and install it "
                         "again.") from exc
    return _parse(raw, path)


def write_record(folder: Path, record: InstallRecord) -> None:
    """Write the record atomically (a temporary file renamed over the old one)."""
    path = folder / LOCK_FILE
    tmp = path.with_name(f".{LOCK_FILE}.{os.getpid()}.tmp")
    tmp.write_text(record.to_json(), encoding="utf-8")
    os.replace(tmp, path)
