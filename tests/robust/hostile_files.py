"""Helpers for the robustness tests: a fast stand-in embedder, a tree snapshot, extraction
targets that misbehave, and the socket guard used by the privacy test.

The hostile-file generators themselves live in ``memex_bench.robustness`` (the
benchmark needs them too); they are re-exported here.
"""

from __future__ import annotations

import hashlib
import os
import signal
import stat
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

import numpy as np
from memex.core.types import Extraction
from memex_bench.robustness import (  # noqa: F401  (re-exported for the tests)
    SECRET,
    HostileCase,
    make_hostile_folder,
    make_unreadable,
    simulated_extract,
)
from tokenizers import Tokenizer


class HashEmbedder:
    """Deterministic 16-d vectors from a hash of the text: the indexing plumbing at full speed
    (the real model costs ~0.1 s a chunk on a busy 2-core machine)."""

    model_id = "test-hash-16"
    dim = 16

    def __init__(self) -> None:
        path = files("memex.resources").joinpath("models/bert-uncased-tokenizer.json")
        self.tokenizer = Tokenizer.from_file(str(path))

    def embed_documents(self, texts: Sequence[str], batch_size: int = 32, *, narrow: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)

    def _vector(self, text: str) -> np.ndarray:
        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=self.dim).digest()
        vector = np.frombuffer(digest, dtype=np.uint8).astype(np.float32) - 127.5
        return vector / max(float(np.linalg.norm(vector)), 1e-6)


def tree_snapshot(root: Path) -> dict[bytes, tuple]:
    """Everything under ``root`` as lstat facts (type, size, mtime, mode, link target), by
    path bytes; links are not followed and unreadable folders are recorded as such."""
    out: dict[bytes, tuple] = {}
    stack = [os.fsencode(root)]
    while stack:
        folder = stack.pop()
        try:
            names = os.listdir(folder)
        except OSError as exc:
            out[folder + b"/<listing>"] = ("unlistable", exc.errno)
            continue
        for name in names:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            target = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
            out[path] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns, stat.S_IMODE(st.st_mode), target)
            if stat.S_ISDIR(st.st_mode):
                stack.append(path)
    return out


def parent_killing_extract(path: Path, max_chars: int, kind: str | None = None) -> Extraction:
    """``extract_file``, except that a file named killer* SIGKILLs the process that asked
    for it: a file that takes the whole app down whenever it is read."""
    if Path(path).name.startswith("killer"):
        os.kill(os.getppid(), signal.SIGKILL)
    from memex.core.extract import extract_file

    return extract_file(path, max_chars, kind)


NETGUARD_ENV = "MEMEX_TEST_NETGUARD_LOG"

# Installed as sitecustomize.py on PYTHONPATH: every Python process started with that
# environment (the CLI, the extraction child) refuses and logs any connection attempt.
NETGUARD_SITECUSTOMIZE = '''
import os
import socket

_LOG = os.environ.get("MEMEX_TEST_NETGUARD_LOG")


def _note(line):
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()} {line}\\n")


def _refuse(what):
    def blocked(*args, **kwargs):
        _note(f"{what} {args[1:] if what.startswith('socket.') else args}")
        raise OSError(f"network blocked by the privacy test: {what}")
    return blocked


if _LOG:
    _note("guard-loaded")
    socket.socket.connect = _refuse("socket.connect")
    socket.socket.connect_ex = _refuse("socket.connect_ex")
    socket.socket.sendto = _refuse("socket.sendto")
    socket.create_connection = _refuse("create_connection")
    socket.getaddrinfo = _refuse("getaddrinfo")
'''
