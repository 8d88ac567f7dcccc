"""Checking model files against their sha256 sums: the pinned ones of the catalogue and the
ones recorded when a model was installed. A sum is cached by (path, size, mtime_ns) so a launch
does not rehash.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .. import config
from ..errors import ChecksumMismatch, ModelError
from .catalogue import MODEL_FILE, ModelSpec
from .lock import LOCK_FILE, FileRecord, InstallRecord, read_record, write_record
from .safety import check_external_data, check_model_folder

_CHECKSUM_CACHE = "model-checksums.json"
_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """The hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _cache_path() -> Path:
    return config.cache_dir() / _CHECKSUM_CACHE


def _read_cache() -> dict[str, Any]:
    try:
        raw = json.loads(_cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


def cached_sha256(path: str | Path) -> str:
    """``sha256_file`` remembered by (path, size, mtime_ns) in a small JSON cache file."""
    path = Path(path).resolve()
    try:
        st = path.stat()
    except OSError as exc:
        raise ModelError(f"The model file {path} cannot be read: {exc.strerror}") from exc
    key = str(path)
    cache = _read_cache()
    entry = cache.get(key)
    if (
        isinstance(entry, dict)
        and entry.get("size") == st.st_size
        and entry.get("mtime_ns") == st.st_mtime_ns
        and isinstance(entry.get("sha256"), str)
    ):
        return entry["sha256"]
    digest = sha256_file(path)
    cache = {k: v for k, v in cache.items() if Path(k).exists()}
    cache[key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
    tmp = _cache_path().with_suffix(f".{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(cache, indent=1), encoding="utf-8")
        os.replace(tmp, _cache_path())
    except OSError:
        pass  # the cache is an optimisation only
    return digest


def verify_sha256(path: str | Path, expected: str, *, use_cache: bool = True) -> str:
    """Return the file's sha256, or raise ChecksumMismatch if it is not ``expected``."""
    actual = cached_sha256(path) if use_cache else sha256_file(path)
    if actual.lower() != expected.strip().lower():
        raise ChecksumMismatch(
            f"The model file {path} does not match its pinned checksum (sha256 {actual[:12]}…, "
            f"expected {expected[:12]}…). It may be damaged or altered, so Memex will not load "
            "it. Reinstall the model to fix this."
        )
    return actual


def _first_use_record(folder: Path, spec: ModelSpec) -> InstallRecord:
    """A record for a model folder placed by hand: its files are checked against the catalogue's
    pins and the safety check, then their sums are kept for every later load."""
    files: dict[str, FileRecord] = {}
    for local in spec.file_names():
        path = folder / local
        if not path.is_file():
            raise ModelError(f"The model {spec.name} is incomplete: {path} is missing.")
        pinned = spec.pinned_sha256(local)
        digest = verify_sha256(path, pinned, use_cache=False) if pinned else sha256_file(path)
        files[local] = FileRecord(digest, path.stat().st_size, None, "catalogue" if pinned else "first-use")
    check_external_data(folder / MODEL_FILE)
    record = InstallRecord(name=spec.name, kind=spec.kind, source="local", files=files, repo=spec.repo,
                           revision=spec.revision, safety_checked=True)
    with contextlib.suppress(OSError):  # a read-only folder: it is checked again on the next load
        write_record(folder, record)
    return record


def verify_installed(folder: Path, spec: ModelSpec) -> str:
    """Check every file of an installed model against its record (and the catalogue's pins);
    returns model.onnx's sha256. Raises ChecksumMismatch or ModelError."""
    check_model_folder(folder, (LOCK_FILE, *spec.file_names()))  # no link out, nothing oversized
    record = read_record(folder)
    if record is None:
        record = _first_use_record(folder, spec)
    else:
        check_model_folder(folder, list(record.files))
    for local in spec.file_names():
        if local not in record.files:
            raise ModelError(f"The model {spec.name} is incomplete: its record lists no {local}. "
                             "Remove it and install it again.")
    for local, entry in record.files.items():
        pinned = spec.pinned_sha256(local)
        if pinned and pinned != entry.sha256:
            raise ChecksumMismatch(
                f"The model {spec.name} was installed with a {local} (sha256 {entry.sha256[:12]}…) that is not "
                f"the one the catalogue pins ({pinned[:12]}…), so Memex will not load it. Remove the model "
                "and download it again.")
        path = folder / local
        if not path.is_file():
            raise ModelError(f"The model {spec.name} is incomplete: {path} is missing.")
        verify_sha256(path, entry.sha256)
    if not record.safety_checked:
        check_external_data(folder / MODEL_FILE)
    return record.files[MODEL_FILE].sha256

