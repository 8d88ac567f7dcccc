"""ONNX external data must stay inside the model's folder; checked with the onnx package when
it is installed and with the built-in protobuf scanner always."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from memex.core.errors import ModelError
from memex.core.models.safety import UnsafeModel, check_external_data, scan_bytes

HAVE_ONNX = importlib.util.find_spec("onnx") is not None
MODES = [False, None] + ([True] if HAVE_ONNX else [])


# A tiny protobuf writer: enough of onnx.proto to build models without the onnx package.
def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes | int) -> bytes:
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _tensor(name: str, location: str | None) -> bytes:
    body = _field(1, 4) + _field(2, 1) + _field(8, name.encode())  # dims, FLOAT, name
    if location is None:
        return body + _field(9, b"\0" * 16)  # raw_data inline
    body += _field(13, _field(1, b"location") + _field(2, location.encode()))
    body += _field(13, _field(1, b"offset") + _field(2, b"0"))
    return body + _field(14, 1)  # data_location = EXTERNAL


def _model(initializers: list[bytes], subgraph_tensors: list[bytes] = ()) -> bytes:
    graph = b"".join(_field(5, t) for t in initializers)
    if subgraph_tensors:  # an If node whose then_branch graph holds more initializers
        inner = b"".join(_field(5, t) for t in subgraph_tensors)
        attribute = _field(1, b"then_branch") + _field(6, inner) + _field(20, 5)
        graph += _field(1, _field(4, b"If") + _field(5, attribute))
    return _field(1, 8) + _field(7, graph)  # ir_version, graph


def _write(folder: Path, data: bytes, name: str = "model.onnx") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("use_onnx", MODES)
def test_inline_and_inside_external_data_pass(tmp_path: Path, use_onnx: bool | None) -> None:
    folder = tmp_path / "model"
    (folder / "weights").mkdir(parents=True)
    (folder / "weights" / "w.bin").write_bytes(b"\0" * 16)
    path = _write(folder, _model([_tensor("inline", None), _tensor("w", "weights/w.bin")]))
    found = check_external_data(path, use_onnx=use_onnx)
    assert [(t.tensor, t.location) for t in found] == [("w", "weights/w.bin")]
    assert found[0].path == (folder / "weights" / "w.bin").resolve()


@pytest.mark.parametrize("use_onnx", MODES)
@pytest.mark.parametrize("location", ["../secret.bin", "weights/../../secret.bin", "/etc/passwd",
                                      "..\\..\\secret.bin", "C:\\Windows\\win.ini", "", "a\0b"])
def test_external_data_outside_the_folder_is_refused(tmp_path: Path, use_onnx: bool | None, location: str) -> None:
    path = _write(tmp_path / "model", _model([_tensor("w", location)]))
    with pytest.raises(UnsafeModel) as info:
        check_external_data(path, use_onnx=use_onnx)
    assert isinstance(info.value, ModelError)
    assert "'w'" in str(info.value)


@pytest.mark.parametrize("use_onnx", MODES)
def test_a_link_out_of_the_folder_is_refused(tmp_path: Path, use_onnx: bool | None) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (tmp_path / "secret.bin").write_bytes(b"secret")
    os.symlink(tmp_path / "secret.bin", folder / "w.bin")
    path = _write(folder, _model([_tensor("w", "w.bin")]))
    with pytest.raises(UnsafeModel, match="through a link"):
        check_external_data(path, use_onnx=use_onnx)


@pytest.mark.parametrize("use_onnx", MODES)
def test_tensors_in_subgraphs_are_checked_too(tmp_path: Path, use_onnx: bool | None) -> None:
    path = _write(tmp_path / "model", _model([_tensor("ok", None)], [_tensor("hidden", "../../x.bin")]))
    with pytest.raises(UnsafeModel, match="hidden"):
        check_external_data(path, use_onnx=use_onnx)


def test_damaged_or_hostile_protobuf_is_refused_not_crashed(tmp_path: Path) -> None:
    model = _model([_tensor("w", "w.bin")])
    for data in (model[:-3], b"\xff" * 64, _field(7, b"\x0a\xff\xff\xff\xff\x0f")):
        path = _write(tmp_path / "model", data)
        with pytest.raises(UnsafeModel):
            check_external_data(path, use_onnx=False)
    deep = _tensor("deep", "../x")
    for _ in range(200):  # graphs nested 200 deep through node attributes
        deep = _field(1, _field(5, _field(6, deep)))
    with pytest.raises(UnsafeModel):
        list(scan_bytes(_field(7, deep)))


def test_the_bundled_embedder_passes(tmp_path: Path) -> None:
    from memex.core.models.resolve import resolve_embedder

    model = resolve_embedder(None)
    assert check_external_data(model.onnx_path) == []
    assert check_external_data(model.onnx_path, use_onnx=False) == []


# --- the check guards every ONNX session --------------------------------------------------------


def _onnx_add_model(folder: Path, location: str) -> Path:
    """A real model, y = x + w, whose 4-float initializer ``w`` is read from ``location``."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    weight = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4], data_location=TensorProto.EXTERNAL)
    for key, value in (("location", location), ("offset", "0"), ("length", "16")):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])], "add",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], initializer=[weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    return _write(folder, model.SerializeToString())


def test_create_session_refuses_a_model_that_reads_files_outside_its_folder(tmp_path: Path) -> None:
    import numpy as np
    from memex.core.models.onnx_session import create_session

    x = np.zeros(4, dtype=np.float32)
    good = _onnx_add_model(tmp_path / "good", "w.bin")
    (tmp_path / "good" / "w.bin").write_bytes(np.array([1, 2, 3, 4], dtype=np.float32).tobytes())
    session, _ = create_session(good, threads=1, device="cpu")
    assert session.run(None, {"x": x})[0].tolist() == [1, 2, 3, 4]

    secret = np.array([7, 7, 7, 7], dtype=np.float32)
    (tmp_path / "secret.bin").write_bytes(secret.tobytes())
    evil = _onnx_add_model(tmp_path / "evil", "../secret.bin")
    # Recent ONNX Runtime releases refuse this too, older ones read the file into the tensor;
    # either way Memex refuses it first, in words the user can act on.
    with pytest.raises(UnsafeModel, match=r"'\.\./secret\.bin', which leaves the model's folder"):
        create_session(evil, threads=1, device="cpu")
    linked = _onnx_add_model(tmp_path / "linked", "w.bin")
    os.symlink(tmp_path / "secret.bin", tmp_path / "linked" / "w.bin")
    with pytest.raises(UnsafeModel, match="through a link"):
        create_session(linked, threads=1, device="cpu")


@pytest.mark.parametrize("kind", ["embedder", "reranker"])
def test_loading_a_model_folder_with_outside_external_data_is_refused(tmp_path: Path, kind: str) -> None:
    import shutil

    from memex.core.models.embedding import load_embedder
    from memex.core.models.rerank import load_reranker

    (tmp_path / "secret.bin").write_bytes(b"\0" * 16)
    folder = tmp_path / "downloaded-model"
    _onnx_add_model(folder, "../secret.bin")
    shutil.copy(Path(__file__).resolve().parents[2] / "resources" / "models" / "bert-uncased-tokenizer.json",
                folder / "tokenizer.json")
    load = load_embedder if kind == "embedder" else load_reranker
    with pytest.raises(ModelError, match="Memex will not load the model model.onnx: its tensor 'w' points at"):
        load(str(folder), threads=1, device="cpu")
