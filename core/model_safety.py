"""Refuse ONNX models whose tensors live in files outside the model's own folder.

An ONNX file may keep large tensors in "external data" files named by a relative path. A
crafted model could name ``../../.ssh/id_rsa`` or ``/etc/shadow`` and have ONNX Runtime read
that file into a tensor, whose values then leak through the model's outputs. Before a model
is loaded, every tensor's ``external_data`` ``location`` is checked: relative, without ``..``,
and (following symlinks) inside the model's folder.

The ``onnx`` package reads the file when it is installed; otherwise a small protobuf scanner
walks just the messages that can hold tensors (Memex does not depend on ``onnx``).
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from .errors import ModelError

MAX_DEPTH = 64  # subgraphs nest (If/Loop bodies); a file nesting deeper than this is refused


class UnsafeModel(ModelError):
    """The model refers to files outside its folder (or cannot be checked); it is refused."""


@dataclass(frozen=True)
class ExternalTensor:
    """One tensor stored outside the .onnx file."""

    tensor: str
    location: str
    path: Path  # where it resolves to (inside the model's folder)


def check_external_data(model_path: str | os.PathLike[str], *, use_onnx: bool | None = None) -> list[ExternalTensor]:
    """Every external tensor of the ONNX model at ``model_path``, after checking that each
    stays inside the model's folder; raises :class:`UnsafeModel` otherwise.

    ``use_onnx``: None uses the ``onnx`` package when it is installed; False forces the
    built-in scanner (True requires ``onnx``)."""
    path = Path(model_path)
    if use_onnx is None:
        try:
            import onnx  # noqa: F401
        except ImportError:
            use_onnx = False
        else:
            use_onnx = True
    try:
        found = list(_with_onnx(path) if use_onnx else _scan_file(path))
    except UnsafeModel:
        raise
    except OSError as exc:
        raise UnsafeModel(f"Cannot read the model {path}: {exc.strerror or exc}") from exc
    except Exception as exc:  # a damaged protobuf: refuse it rather than let the runtime guess
        raise UnsafeModel(f"The model {path.name} cannot be checked (damaged file: {exc}).") from exc
    folder = path.resolve().parent
    return [_checked(folder, path.name, tensor, location) for tensor, location in found]


def _checked(folder: Path, model_name: str, tensor: str, location: str) -> ExternalTensor:
    def refuse(why: str) -> UnsafeModel:
        return UnsafeModel(
            f"Memex will not load the model {model_name}: its tensor {tensor!r} points at "
            f"{location!r}, {why}. Only files inside the model's folder may hold its data.")

    if not location or "\x00" in location:
        raise refuse("which is not a valid file name")
    posix, windows = PurePosixPath(location), PureWindowsPath(location)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or location.startswith(("/", "\\")):
        raise refuse("an absolute path")
    if ".." in posix.parts or ".." in windows.parts:
        raise refuse("which leaves the model's folder")
    target = (folder / location).resolve()
    if target != folder and folder not in target.parents:
        raise refuse("which leads outside the model's folder (through a link)")
    return ExternalTensor(tensor, location, target)


# --- with the onnx package -----------------------------------------------------------------


def _with_onnx(path: Path) -> Iterator[tuple[str, str]]:
    import onnx
    from google.protobuf.message import Message

    model = onnx.load(str(path), load_external_data=False)
    stack: list[tuple[object, int]] = [(model, 0)]
    while stack:
        message, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise UnsafeModel(f"The model {path.name} nests subgraphs too deeply to be checked.")
        if isinstance(message, onnx.TensorProto):
            if message.external_data or message.data_location == onnx.TensorProto.EXTERNAL:
                entries = {e.key: e.value for e in message.external_data}
                yield message.name, entries.get("location", "")
            continue
        for field, value in message.ListFields():  # type: ignore[attr-defined]
            if field.type != field.TYPE_MESSAGE:
                continue
            items = [value] if isinstance(value, Message) else list(value)  # one, or repeated
            stack.extend((item, depth + 1) for item in items)


# --- without it: a minimal protobuf walk -------------------------------------------------------

# Field numbers from onnx.proto: only messages that can (transitively) hold a TensorProto.
_MODEL, _GRAPH, _NODE, _ATTRIBUTE, _TENSOR, _SPARSE, _FUNCTION, _TRAINING, _ENTRY = range(9)
_CHILDREN: dict[int, dict[int, int]] = {
    _MODEL: {7: _GRAPH, 20: _TRAINING, 25: _FUNCTION},
    _TRAINING: {1: _GRAPH, 2: _GRAPH},
    _FUNCTION: {7: _NODE, 11: _ATTRIBUTE},
    _GRAPH: {1: _NODE, 5: _TENSOR, 15: _SPARSE},
    _NODE: {5: _ATTRIBUTE},
    _ATTRIBUTE: {5: _TENSOR, 6: _GRAPH, 10: _TENSOR, 11: _GRAPH, 22: _SPARSE, 23: _SPARSE},
    _SPARSE: {1: _TENSOR, 2: _TENSOR},
    _TENSOR: {13: _ENTRY},
    _ENTRY: {},
}
_TENSOR_NAME, _TENSOR_LOCATION = 8, 14
_EXTERNAL = 1


def _scan_file(path: Path) -> Iterator[tuple[str, str]]:
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            raise UnsafeModel(f"The model {path.name} is empty.")
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            view = memoryview(mapped)
            try:
                yield from scan_bytes(view)
            finally:
                view.release()


def scan_bytes(data: bytes | memoryview) -> Iterator[tuple[str, str]]:
    """(tensor name, location) of each external tensor in a serialized ModelProto."""
    view = memoryview(data)
    stack: list[tuple[int, int, int, int]] = [(_MODEL, 0, len(view), 0)]  # kind, start, end, depth
    while stack:
        kind, start, end, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise UnsafeModel("the model nests subgraphs too deeply to be checked")
        if kind == _TENSOR:
            tensor = _tensor_fields(view, start, end)
            if tensor is not None:
                yield tensor
            continue
        children = _CHILDREN[kind]
        for number, wire, value_start, value_end in _fields(view, start, end):
            child = children.get(number)
            if child is not None and wire == 2:
                stack.append((child, value_start, value_end, depth + 1))


def _tensor_fields(view: memoryview, start: int, end: int) -> tuple[str, str] | None:
    name = ""
    location: str | None = None
    external = False
    for number, wire, value_start, value_end in _fields(view, start, end):
        if number == _TENSOR_NAME and wire == 2:
            name = bytes(view[value_start:value_end]).decode("utf-8", "replace")
        elif number == 13 and wire == 2:
            external = True
            key, value = _entry(view, value_start, value_end)
            if key == "location":
                location = value
        elif number == _TENSOR_LOCATION and wire == 0 and value_start == _EXTERNAL:
            external = True
    if not external:
        return None
    return name, location or ""


def _entry(view: memoryview, start: int, end: int) -> tuple[str, str]:
    key = value = ""
    for number, wire, value_start, value_end in _fields(view, start, end):
        if wire != 2:
            continue
        text = bytes(view[value_start:value_end]).decode("utf-8", "replace")
        if number == 1:
            key = text
        elif number == 2:
            value = text
    return key, value


def _fields(view: memoryview, pos: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, start, end) of each field; for varints start is the value."""
    while pos < end:
        key, pos = _varint(view, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ValueError("field number 0")
        if wire == 0:
            value, pos = _varint(view, pos, end)
            yield number, wire, value, pos
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = _varint(view, pos, end)
            if pos + length > end:
                raise ValueError("a field runs past the end of its message")
            yield number, wire, pos, pos + length
            pos += length
        else:
            raise ValueError(f"unsupported wire type {wire}")
    if pos != end:
        raise ValueError("truncated message")


def _varint(view: memoryview, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise ValueError("bad varint")
        byte = view[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7

