"""A cache of model files derived from other model files (the optimised copies of the embedder
and the reranker): each in its own folder named by what it was built from, written atomically,
built by one process at a time, checked by sha256 on every use, and a failed build remembered so
the same inputs are not rebuilt on every start."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from .checksums import sha256_file

log = logging.getLogger(__name__)

MODEL_FILE, META_FILE, LOCK_FILE = "model.onnx", "build.json", ".lock"
LOCK_WAIT_S, STALE_LOCK_S = 120.0, 900.0

# What a build returns: the model's bytes and figures to keep in its record.
Built = tuple[bytes, dict[str, Any]]


def folder_for(cache: Path, name: str, inputs: dict[str, Any]) -> Path:
    """The folder of the copy built from ``inputs`` (source checksum, runtime, recipe...)."""
    key = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]
    return cache / f"{name}-{key}"


def cached(folder: Path, inputs: dict[str, Any], what: str) -> Path | None:
    """The cached model if its record matches ``inputs`` and its sha256 checks out; raises if
    a build from the same inputs failed (it would fail again)."""
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or any(meta.get(k) != v for k, v in inputs.items()):
        return None
    if "error" in meta:
        raise RuntimeError(f"an earlier build failed: {meta['error']}")
    model = folder / MODEL_FILE
    try:
        if sha256_file(model) == meta.get("sha256"):
            return model
    except OSError:
        return None
    log.warning("The optimised %s in %s is damaged; rebuilding it", what, folder)
    return None


def build_into(folder: Path, inputs: dict[str, Any], build: Callable[[], Built], what: str) -> Path:
    """Build the model into ``folder`` under a lock (unless another process just did) and record it."""
    folder.mkdir(parents=True, exist_ok=True)
    with _lock(folder / LOCK_FILE):
        if (found := cached(folder, inputs, what)) is not None:  # another process built it meanwhile
            return found
        started = time.perf_counter()
        try:
            data, figures = build()
        except Exception as exc:
            write_atomic(folder / META_FILE, json.dumps({**inputs, "error": f"{type(exc).__name__}: {exc}"}).encode())
            raise
        write_atomic(folder / MODEL_FILE, data)
        meta = {**inputs, "sha256": hashlib.sha256(data).hexdigest(), **figures,
                "build_seconds": round(time.perf_counter() - started, 2)}
        write_atomic(folder / META_FILE, json.dumps(meta, indent=1).encode())
        log.info("Built the optimised %s in %.1f s (%s)", what, meta["build_seconds"], figures)
    return folder / MODEL_FILE


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with suppress(OSError):
            tmp.unlink()


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    """A lock file so that two processes do not build at once (a stale one is taken over)."""
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            with suppress(OSError):
                if time.time() - path.stat().st_mtime > STALE_LOCK_S:
                    path.unlink()
                    continue
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path} is held by another process") from None
            time.sleep(0.25)
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        yield
    finally:
        with suppress(OSError):
            path.unlink()
