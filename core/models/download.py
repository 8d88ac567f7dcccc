"""Download a catalogue model from the Hugging Face Hub, verified, resumable and cancellable.

Files go to ``<models>/.partial/NAME/`` first (``*.part`` while they arrive), each checked
against the catalogue's pinned sha256 or, when the catalogue pins none, against the sum the Hub
reports for it (the ``X-Linked-Etag`` of an LFS file is its sha256; the ETag of a small file is
its git blob sha1). Once every file is verified and model.onnx passes the external-data check,
a record of the sums is written and the folder is renamed to ``<models>/NAME`` in one step, so
a model is either fully installed or not at all. An interrupted or cancelled download leaves
its ``.part`` files: the next call asks the server only for the missing bytes (HTTP Range).

A server is not trusted with the size either: each file stops being written the moment it would
pass its declared size (the catalogue's, else the one the Hub reports, else ``model_safety.size_cap``
for its kind); the download then fails and the file is deleted. Not a byte past the declared
size reaches the disk.

No connection is made in offline mode (``HF_HUB_OFFLINE=1`` or ``MEMEX_OFFLINE=1``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .. import config
from ..errors import ChecksumMismatch, ModelError
from .catalogue import MODEL_FILE, ModelSpec, get_spec, installed_folder
from .checksums import sha256_file, verify_installed
from .hub import DownloadCancelled, DownloadError, HubClient, OfflineError
from .lock import FileRecord, InstallRecord, is_sha256, read_record, write_record
from .safety import SETTINGS_MAX, check_external_data, describe_size, read_bounded, size_cap

PARTIAL_DIR = ".partial"
STATE_FILE = "download.json"
OFFLINE_ENV = "MEMEX_OFFLINE"
_GIT_SHA1 = re.compile(r"^[0-9a-f]{40}$")
_TRUE = {"1", "on", "yes", "true"}
_busy: set[str] = set()
_busy_lock = threading.Lock()


@dataclass(frozen=True)
class DownloadProgress:
    """Bytes done of all files (``total`` None while unknown) and of the current one."""

    model: str
    file: str
    done: int
    total: int | None
    file_done: int
    file_total: int | None

    @property
    def fraction(self) -> float | None:
        return self.done / self.total if self.total else None


ProgressFn = Callable[[DownloadProgress], None]


def offline_mode() -> bool:
    """Whether downloads are off: ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` or ``MEMEX_OFFLINE``."""
    names = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", OFFLINE_ENV)
    return any(os.environ.get(n, "").strip().lower() in _TRUE for n in names)


def partial_folder(name: str) -> Path:
    return config.models_dir() / PARTIAL_DIR / name


def partial_bytes(name: str) -> int:
    """Bytes of an unfinished download of ``name`` kept for resuming (0 if none)."""
    folder = partial_folder(name)
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) if folder.is_dir() else 0


def discard_partial(name: str) -> None:
    shutil.rmtree(partial_folder(name), ignore_errors=True)


def hub_spec(model: str | ModelSpec) -> ModelSpec:
    """The catalogue entry for ``model``, refusing models that are not downloaded from the Hub."""
    spec = get_spec(model) if isinstance(model, str) else model
    if spec is None:
        raise DownloadError(f"No model named {model!r} is in the catalogue (see: memex models list).")
    if spec.source == "pypi":
        raise DownloadError(f"{spec.name} is installed with Memex; there is nothing to download.")
    if spec.source != "hub" or not spec.repo or not spec.files:
        raise DownloadError(f"{spec.name} cannot be downloaded: the catalogue lists no repository files for it.")
    return spec


def download_model(model: str | ModelSpec, *, progress: ProgressFn | None = None,
                   cancel: threading.Event | None = None, endpoint: str | None = None,
                   timeout: float = 30.0, attempts: int = 3, force: bool = False) -> InstallRecord:
    """Download, verify and install a catalogue model; returns its install record.

    An installed, intact model is returned as it is unless ``force``. ``cancel`` set by
    another thread stops the download (DownloadCancelled) and keeps the partial files.
    ``attempts``: tries per file when the connection drops (each resumes where it stopped).
    ``endpoint``: the Hub's address (default: ``$HF_ENDPOINT``, else huggingface.co)."""
    spec = hub_spec(model)
    target = installed_folder(spec.name)
    if not force and (target / MODEL_FILE).is_file():
        record = read_record(target)
        if record is not None:
            verify_installed(target, spec)
            return record
    if offline_mode():
        raise OfflineError(f"Memex is in offline mode ({_offline_reason()}), so it did not download {spec.name}; "
                           "unset it to download, or add model files by hand with: memex models import FOLDER")
    with _exclusive(spec.name):
        hub = HubClient(endpoint, timeout)
        with hub.errors(spec.name):
            return _Download(spec, hub, progress, cancel or threading.Event(), max(1, attempts)).run(force)


def _offline_reason() -> str:
    names = [n for n in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", OFFLINE_ENV)
             if os.environ.get(n, "").strip().lower() in _TRUE]
    return f"{names[0]} is set" if names else "offline"


@contextlib.contextmanager
def _exclusive(name: str) -> Iterator[None]:
    with _busy_lock:
        if name in _busy:
            raise DownloadError(f"{name} is already being downloaded.")
        _busy.add(name)
    try:
        yield
    finally:
        with _busy_lock:
            _busy.discard(name)


@dataclass
class _Planned:
    local: str
    path: str
    location: str
    size: int | None
    expected: str  # hex digest the file must have
    algorithm: str  # "sha256" | "git-sha1"
    verified: str  # "catalogue" | "hub"
    limit: int  # bytes the file may have: its declared size, else the cap for its kind
    limit_source: str  # who declared it, for messages


class _Download:
    def __init__(self, spec: ModelSpec, hub: HubClient, progress: ProgressFn | None, cancel: threading.Event,
                 attempts: int) -> None:
        self.spec, self.hub, self.progress, self.cancel, self.attempts = spec, hub, progress, cancel, attempts
        self.staging = partial_folder(spec.name)
        self.done = 0
        self.total: int | None = None

    def run(self, force: bool) -> InstallRecord:
        self.staging.mkdir(parents=True, exist_ok=True)
        state = self._load_state()
        plan = self._plan(state)
        sizes = [p.size for p in plan]
        self.total = None if None in sizes else sum(s for s in sizes if s is not None)
        self.done = sum(self._present(p) for p in plan)
        files: dict[str, FileRecord] = {}
        for item in plan:
            files[item.local] = self._fetch(item)
        return self._install(state, files)

    # -- state kept between attempts ------------------------------------------------------
    def _load_state(self) -> dict:
        try:
            state = json.loads(read_bounded(self.staging / STATE_FILE, SETTINGS_MAX).decode("utf-8"))
        except (OSError, ValueError, ModelError):
            state = {}
        if not isinstance(state, dict) or state.get("repo") != self.spec.repo or (
                self.spec.revision and state.get("revision") != self.spec.revision):
            for p in self.staging.iterdir():  # another revision's leftovers
                p.unlink() if p.is_file() else shutil.rmtree(p, ignore_errors=True)
            state = {}
        state.update(repo=self.spec.repo, revision=self.spec.revision)
        state.setdefault("files", {})
        return state

    def _save_state(self, state: dict) -> None:
        (self.staging / STATE_FILE).write_text(json.dumps(state, indent=1), encoding="utf-8")

    # -- what to fetch --------------------------------------------------------------------
    def _plan(self, state: dict) -> list[_Planned]:
        plan = []
        for f in self.spec.files:
            revision = state.get("commit") or self.spec.revision or "main"
            meta = self.hub.metadata(self.hub.url(self.spec.repo or "", f.path, revision))
            commit = (meta.commit_hash or "").lower() or None
            if state.get("commit") is None:
                if self.spec.revision and _GIT_SHA1.match(self.spec.revision) and commit \
                        and commit != self.spec.revision:
                    raise DownloadError(f"The Hub answered for commit {commit[:12]} of {self.spec.repo}, not the "
                                        f"pinned {self.spec.revision[:12]}; {self.spec.name} was not downloaded.")
                state["commit"] = commit
            item = self._expect(f, meta, state)
            if urlsplit(item.location).netloc == urlsplit(self.hub.endpoint).netloc and state.get("commit"):
                item.location = self.hub.url(self.spec.repo or "", f.path, state["commit"])  # not a moving branch
            plan.append(item)
        self._save_state(state)
        return plan

    def _expect(self, f, meta, state: dict) -> _Planned:
        etag = (meta.etag or "").lower()
        pinned = f.sha256.lower() if f.sha256 else None
        name = self.spec.name
        if pinned and is_sha256(etag) and etag != pinned:
            raise ChecksumMismatch(
                f"The Hub now serves a different {f.path} for {name} (sha256 {etag[:12]}…) than the one the "
                f"catalogue pins ({pinned[:12]}…), so Memex did not download it.")
        if f.size is not None and meta.size is not None and f.size != meta.size:
            raise ChecksumMismatch(f"The Hub now serves {f.path} for {name} with {meta.size} bytes, not the "
                                   f"{f.size} the catalogue expects, so Memex did not download it.")
        if pinned:
            expected, algorithm, verified = pinned, "sha256", "catalogue"
        elif is_sha256(etag):
            expected, algorithm, verified = etag, "sha256", "hub"
        elif _GIT_SHA1.match(etag):
            expected, algorithm, verified = etag, "git-sha1", "hub"
        else:
            raise DownloadError(f"The Hub reported no checksum for {f.path} of {name}, so Memex cannot verify "
                                "it and did not download it.")
        known = state["files"].get(f.local)
        if known is not None and known.get("expected") != expected:  # the file changed upstream
            for p in (self.staging / f"{f.local}.part", self.staging / f.local):
                p.unlink(missing_ok=True)
        size = meta.size if meta.size is not None else f.size
        cap = size_cap(f.local)
        if f.size is None and size is not None and size > cap:  # only the catalogue may declare more
            raise DownloadError(f"The Hub reports {f.path} of {name} as {describe_size(size)}, more than the "
                                f"{describe_size(cap)} Memex accepts for such a file, so it was not downloaded.")
        state["files"][f.local] = {"path": f.path, "expected": expected, "algorithm": algorithm, "size": size}
        limit, source = ((f.size, "the catalogue") if f.size is not None else (size, "the Hub") if size is not None
                         else (cap, "Memex's limit for such a file"))
        return _Planned(f.local, f.path, meta.location, size, expected, algorithm, verified, limit, source)

    def _present(self, item: _Planned) -> int:
        for p in (self.staging / item.local, self.staging / f"{item.local}.part"):
            if p.is_file():
                return p.stat().st_size
        return 0

    # -- fetching -------------------------------------------------------------------------
    def _report(self, file: str, file_done: int, file_total: int | None) -> None:
        if self.progress is not None:
            self.progress(DownloadProgress(self.spec.name, file, self.done, self.total, file_done, file_total))

    def _fetch(self, item: _Planned) -> FileRecord:
        final = self.staging / item.local
        if final.is_file():  # verified by an earlier attempt; checked again before use
            digest = self._verify(final, item)
            self._report(item.local, final.stat().st_size, item.size)
            return FileRecord(digest, final.stat().st_size, item.path, item.verified)
        part = self.staging / f"{item.local}.part"
        tries = 0
        while True:
            if self.cancel.is_set():
                raise DownloadCancelled(f"The download of {self.spec.name} was cancelled; run it again to "
                                        "continue where it stopped.")
            have = part.stat().st_size if part.is_file() else 0
            if have > item.limit or (item.size is not None and have > item.size):
                self.done -= have
                part.unlink()
                have = 0
            if item.size is not None and have == item.size:
                break
            try:
                self._receive(item, part, have)
            except Exception as exc:
                import httpx2

                if not isinstance(exc, httpx2.TransportError | _Short):
                    raise
                tries += 1
                if tries >= self.attempts:
                    if isinstance(exc, _Short):
                        raise DownloadError(f"The download of {self.spec.name} stopped early ({item.local}: "
                                            f"{exc.have} of {exc.size} bytes); run it again to continue where it "
                                            "stopped.") from None
                    raise
                time.sleep(min(2.0, 0.25 * tries))
                continue
            if item.size is None or part.stat().st_size >= item.size:
                break
        digest = self._verify(part, item)
        os.replace(part, final)
        return FileRecord(digest, final.stat().st_size, item.path, item.verified)

    def _receive(self, item: _Planned, part: Path, have: int) -> None:
        with self.hub.stream(item.location, have) as response:
            if response.status_code == 416:  # asked past the end: the part file is not a prefix
                self.done -= have
                part.unlink(missing_ok=True)
                raise _Short(0, item.size)
            if have and response.status_code != 206:  # the server ignored the Range: start over
                self.done -= have
                have = 0
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and have + int(length) > item.limit:
                self._oversized(item, part, have + int(length))
            with open(part, "ab" if have else "wb") as fh:
                for chunk in response.iter_bytes():  # as they arrive: nothing buffered is lost on a drop
                    if self.cancel.is_set():
                        raise DownloadCancelled(f"The download of {self.spec.name} was cancelled; run it again "
                                                "to continue where it stopped.")
                    if have + len(chunk) > item.limit:  # not one byte past what was declared
                        fh.write(chunk[: item.limit - have])
                        fh.close()
                        self.done += item.limit - have
                        self._report(item.local, item.limit, item.size)
                        self._oversized(item, part, None)
                    fh.write(chunk)
                    have += len(chunk)
                    self.done += len(chunk)
                    self._report(item.local, have, item.size)
        if item.size is not None and have < item.size:
            raise _Short(have, item.size)

    def _oversized(self, item: _Planned, part: Path, announced: int | None) -> None:
        """A server sending more than the file's declared size: delete what came, install nothing."""
        part.unlink(missing_ok=True)
        what = f"announced {describe_size(announced)}" if announced is not None else "sent more"
        raise DownloadError(f"The server {what} for {item.local} of {self.spec.name}, more than the "
                            f"{describe_size(item.limit)} set by {item.limit_source}; the download stopped, the "
                            "file was deleted and nothing was installed.")

    def _verify(self, path: Path, item: _Planned) -> str:
        digest = sha256_file(path)
        actual = digest if item.algorithm == "sha256" else _git_blob_sha1(path)
        if actual != item.expected:
            path.unlink(missing_ok=True)
            source = "the checksum the catalogue pins" if item.verified == "catalogue" else \
                "the checksum the Hub reported"
            raise ChecksumMismatch(
                f"The downloaded {item.local} of {self.spec.name} does not match {source} ({item.algorithm} "
                f"{actual[:12]}…, expected {item.expected[:12]}…). It was deleted and nothing was installed; try "
                "again later.")
        return digest

    # -- installing -----------------------------------------------------------------------
    def _install(self, state: dict, files: dict[str, FileRecord]) -> InstallRecord:
        try:
            check_external_data(self.staging / MODEL_FILE)
        except ModelError:
            discard_partial(self.spec.name)
            raise
        record = InstallRecord(
            name=self.spec.name, kind=self.spec.kind, source="hub", files=files, repo=self.spec.repo,
            revision=self.spec.revision, commit=state.get("commit"), safety_checked=True)
        (self.staging / STATE_FILE).unlink(missing_ok=True)
        write_record(self.staging, record)
        target = installed_folder(self.spec.name)
        old = None
        if target.exists():
            old = target.with_name(f".old-{self.spec.name}-{os.getpid()}")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
        os.replace(self.staging, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return record


class _Short(Exception):
    """The server closed the response before the whole file arrived."""

    def __init__(self, have: int, size: int | None) -> None:
        super().__init__(f"{have} of {size} bytes")
        self.have, self.size = have, size


def _git_blob_sha1(path: Path) -> str:
    """The git object id of a file (what the Hub reports as the ETag of a non-LFS file)."""
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())  # noqa: S324 - git's id, not security
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
