"""What crosses the service's boundary: length-prefixed JSON frames and structured errors.

A frame is a 4-byte big-endian length and that many bytes of UTF-8 JSON (one object). A
request is ``{"op": name, "params": {...}}``; a reply is ``{"ok": true, "result": {...}}`` or
``{"ok": false, "error": {"code": ..., "message": ...}}``. Both sides refuse a frame over
:data:`MAX_FRAME` before reading it. This module imports only the standard library: the
client's path (a CLI call answered by a running service) must stay light.
"""

from __future__ import annotations

import json
import struct

TYPE_CHECKING = False  # typing itself is not imported: it costs the quick client ~3 ms
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Protocol

    class Connection(Protocol):
        """What the frames need of a socket (the quick client passes a bare ``_socket`` one)."""

        def sendall(self, data: bytes, /) -> None: ...

        def recv(self, size: int, /) -> bytes: ...

MAX_FRAME = 1 << 20  # bytes in one request frame (a query, a few paths: far less)
MAX_REPLY = 64 << 20  # bytes in one reply frame (a page of text, 100 results)
_HEADER = struct.Struct(">I")


class RequestError(Exception):
    """A request the service refuses or could not answer: a short ``code`` a program can act on
    and a one-line ``message`` for a person (never a traceback)."""

    def __init__(self, code: str, message: str) -> None:
        one_line = " ".join(str(message).split())
        super().__init__(one_line)
        self.code = code
        self.message = one_line

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message}


class FrameError(Exception):
    """The other side broke the framing (closed early, sent too much or not JSON)."""


def encode(value: Mapping[str, object], limit: int) -> bytes:
    # ASCII JSON: text with a lone surrogate (from a file's undecodable bytes) travels as an
    # escape and comes back exactly, where UTF-8 could not carry it.
    data = json.dumps(value, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    if len(data) > limit:
        raise RequestError("too-large", f"The reply is {len(data):,} bytes, over the {limit:,}-byte limit.")
    return _HEADER.pack(len(data)) + data


def send(sock: Connection, value: Mapping[str, object], limit: int) -> None:
    sock.sendall(encode(value, limit))


def _exactly(sock: Connection, size: int) -> bytes:
    parts: list[bytes] = []
    left = size
    while left:
        part = sock.recv(min(left, 1 << 16))
        if not part:
            raise FrameError("the connection closed in the middle of a message")
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def receive(sock: Connection, limit: int) -> dict[str, object] | None:
    """The next frame as a JSON object; None when the other side closed between frames.
    A frame over ``limit`` raises RequestError("too-large") before its body is read."""
    first = sock.recv(_HEADER.size)
    if not first:
        return None
    header = first + (_exactly(sock, _HEADER.size - len(first)) if len(first) < _HEADER.size else b"")
    (size,) = _HEADER.unpack(header)
    if size > limit:
        raise RequestError("too-large", f"The message is {size:,} bytes, over the {limit:,}-byte limit.")
    body = _exactly(sock, size)
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise RequestError("bad-json", "The message is not UTF-8 JSON.") from exc
    if not isinstance(value, dict):
        raise RequestError("bad-request", "The message must be a JSON object.")
    return value
