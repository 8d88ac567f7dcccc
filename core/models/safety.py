"""Model folders are hostile input: refuse files outside the folder, and files too big to be real.

Bounds (checked before a byte is read; every whole-file read below is also capped while reading):

* a file reached through a link whose target lies outside the model's folder is never read
  (links between files of the same folder are fine);
* ``tokenizer.json`` at most 32 MiB: BERT-family tokenizers are 0.5-17 MB (XLM-R and
  multilingual-e5: 17 MB) and parsing costs about 10x the file in memory (a 40 MB one took
  442 MB and 2 s, twice per embedder), so 32 MiB keeps a 2x margin over the largest real one;
* ``model.onnx`` at most 2 GiB: protobuf cannot hold a bigger message, so ONNX Runtime cannot
  load a bigger single-file model anyway (larger models keep their weights in external data);
* vocabularies and tokenizer settings (vocab.txt, tokenizer_config.json...) at most 8 MiB
  (multilingual BERT's vocab.txt: 1 MB); other settings files (config.json, memex-model.json,
  memex-lock.json...) at most 1 MiB (real ones: under 10 kB).

An ONNX file may keep large tensors in "external data" files named by a relative path. A
crafted model could name ``../../.ssh/id_rsa`` or ``/etc/shadow`` and have ONNX Runtime read
that file into a tensor, whose values then leak through the model's outputs. Before a model
is loaded, every tensor's ``external_data`` ``location`` is checked: relative, without ``..``,
and (following symlinks) inside the model's folder.

The ``onnx`` package reads the file when it is installed; otherwise a small protobuf scanner
walks just the messages that can hold tensors (Memex does not depend on ``onnx``).
"""

from __future__ import annotations

import hashlib
import mmap
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from ..errors import ModelError

MAX_DEPTH = 64  # subgraphs nest (If/Loop bodies); a file nesting deeper than this is refused
MIB = 1 << 20
ONNX_MAX = 2048 * MIB
TOKENIZER_MAX = 32 * MIB
TOKENIZER_EXTRA_MAX = 8 * MIB
SETTINGS_MAX = 1 * MIB
EXTERNAL_DATA_MAX = 32 * 1024 * MIB  # external tensors may pass 2 GiB; none a desktop can run passes this
TOKENIZER_EXTRAS = frozenset({"vocab.txt", "tokenizer_config.json", "special_tokens_map.json",
                              "added_tokens.json", "merges.txt", "vocab.json"})


class UnsafeModel(ModelError):
    """The model refers to files outside its folder (or cannot be checked); it is refused."""


class ModelFileTooLarge(UnsafeModel):
    """A model file is bigger than any real file of its kind; it was not read."""


def size_cap(name: str) -> int:
    """The most bytes a model file called ``name`` may have (see the module docstring)."""
    base = PurePosixPath(name.replace("\\", "/")).name
    if base.endswith("tokenizer.json"):
        return TOKENIZER_MAX
    if base in TOKENIZER_EXTRAS:
        return TOKENIZER_EXTRA_MAX
    if base.endswith(".json"):
        return SETTINGS_MAX
    return ONNX_MAX  # model.onnx and anything else a model is made of


def describe_size(size: int) -> str:
    for unit, scale in (("MiB", MIB), ("KiB", 1024)):
        if size >= scale:
            return f"{size // scale} {unit}" if size % scale == 0 else f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def too_large(what: str, size: int | None, cap: int) -> ModelFileTooLarge:
    """The one-line refusal of a file over its cap (``size`` None: it grew past it while read)."""
    kind = PurePosixPath(what.replace("\\", "/")).name
    limit = f"the {describe_size(cap)} Memex accepts for a {kind}"
    if size is None:
        return ModelFileTooLarge(f"{what} grew past {limit} while it was read, so it was not used.")
    return ModelFileTooLarge(f"{what} is {describe_size(size)}, more than {limit}, so it was not read.")


def checked_file(folder: Path, relative: str, *, cap: int | None = None) -> Path:
    """Where ``folder/relative`` really is, once it is known to be a regular file inside the folder
    (links between its own files are fine) and no bigger than ``cap`` (default: ``size_cap``).
    Raises :class:`UnsafeModel`; FileNotFoundError when it is missing."""
    folder_root = Path(folder).resolve()
    path = folder_root / relative
    target = path.resolve()
    root = hub_cache_repo(folder_root) or folder_root
    if target != root and root not in target.parents:
        raise UnsafeModel(f"{path} is a link outside the folder (to {target}); Memex does not read model files "
                          "through such links: copy the file into the folder instead.")
    info = target.stat()
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeModel(f"{path} is not a regular file, so Memex did not read it.")
    limit = size_cap(relative) if cap is None else cap
    if info.st_size > limit:
        raise too_large(str(path), info.st_size, limit)
    return target


def hub_cache_repo(folder: Path) -> Path | None:
    """The repository folder (``models--ORG--NAME``) when ``folder`` lies in a snapshot of a
    Hugging Face cache (``models--ORG--NAME/snapshots/REVISION[/…]``), else None. A snapshot's
    files are links into the repository's own ``blobs/``: they stay inside what was given."""
    for here in (folder, *folder.parents):
        if here.parent.name == "snapshots" and here.parent.parent.name.startswith("models--"):
            return here.parent.parent
    return None


def check_model_folder(folder: Path, names: Iterable[str]) -> None:
    """``checked_file`` for each of ``names`` present in ``folder`` (missing ones are left to the caller)."""
    for name in names:
        if os.path.lexists(Path(folder) / name):
            try:
                checked_file(folder, name)
            except FileNotFoundError as exc:  # a dangling link
                raise UnsafeModel(f"{Path(folder) / name} is a link to nothing, so Memex did not read it.") from exc


def copy_model_file(source: Path, target: Path, cap: int) -> tuple[str, int]:
    """Copy the regular file ``source`` (not through a link: check it with ``checked_file`` first)
    to the new file ``target``, stopping past ``cap`` bytes; returns (sha256, size).

    The copy's permissions are the source's narrowed to rw-r--r--: never wider than the source,
    never executable."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    digest, copied = hashlib.sha256(), 0
    with open(os.open(source, flags), "rb", buffering=0) as src:
        info = os.fstat(src.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeModel(f"{source} is not a regular file, so Memex did not read it.")
        if info.st_size > cap:
            raise too_large(str(source), info.st_size, cap)
        mode = stat.S_IMODE(info.st_mode) & 0o644
        with open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode),
                  "wb") as dst:
            while block := src.read(min(1 << 20, cap + 1 - copied)):
                copied += len(block)
                if copied > cap:
                    raise too_large(str(source), None, cap)
                digest.update(block)
                dst.write(block)
    return digest.hexdigest(), copied


def read_bounded(path: str | os.PathLike[str], cap: int) -> bytes:
    """The bytes of a regular file, refusing it before reading when it is over ``cap`` bytes and
    stopping at ``cap + 1`` bytes if it grows meanwhile. FIFOs and devices are refused unread."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    with open(fd, "rb", buffering=0) as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeModel(f"{path} is not a regular file, so Memex did not read it.")
        if info.st_size > cap:
            raise too_large(str(path), info.st_size, cap)
        chunks, have = [], 0
        while have <= cap and (block := fh.read(min(cap + 1 - have, 1 << 20))):
            chunks.append(block)
            have += len(block)
    if have > cap:
        raise too_large(str(path), None, cap)
    return b"".join(chunks)


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
        if path.stat().st_size > ONNX_MAX:  # onnx.load would read it whole
            raise too_large(str(path), path.stat().st_size, ONNX_MAX)
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
    stack: list[tuple[Message, int]] = [(model, 0)]
    while stack:
        message, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise UnsafeModel(f"The model {path.name} nests subgraphs too deeply to be checked.")
        if isinstance(message, onnx.TensorProto):
            if message.external_data or message.data_location == onnx.TensorProto.EXTERNAL:
                entries = {e.key: e.value for e in message.external_data}
                yield message.name, entries.get("location", "")
            continue
        for field, value in message.ListFields():
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

