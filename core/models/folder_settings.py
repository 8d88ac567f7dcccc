"""The settings of a model folder of one's own (imported or given by path): its
memex-model.json, else the sentence-transformers files beside the model, each read bounded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ModelError
from .catalogue import LOCAL_SPEC_FILE, TOKENIZER_FILE, ModelSpec
from .safety import SETTINGS_MAX, read_bounded
from .spec_file import check_local_spec


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


def folder_spec(folder: Path, kind: str, source: str) -> ModelSpec:
    """The spec of a model folder of one's own: its settings file, named after the folder."""
    values = _folder_settings(folder)
    values.update(name=folder.name, kind=kind, source=source, tokenizer=TOKENIZER_FILE)
    if kind == "reranker":
        values["pooling"] = None
    return ModelSpec.from_dict(values)

