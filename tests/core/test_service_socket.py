"""The service's socket as a hostile client sees it: a real Library, a real server on a real
Unix socket, raw frames. Every refusal is a structured error, never a traceback or a hang."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import struct
import time
from pathlib import Path

import pytest
from memex.core.service.client import connect, results_from_dict
from memex.core.service.operations import Operations
from memex.core.service.place import ServiceUnavailable, socket_path
from memex.core.service.protocol import MAX_FRAME, RequestError, receive, send
from memex.core.service.server import WORKERS, ServiceRunning, ServiceServer

pytestmark = pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="Unix domain sockets only")



@pytest.fixture
def served(library, tmp_path: Path, runtime: Path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tax.txt").write_text("The tax return is due in April.\nReceipts go in the blue folder.\n")
    (docs / "garden.md").write_text("# Garden\n\nTomatoes need sun and water every day.\n")
    library.index([docs])
    server = ServiceServer(Operations(library), library.path).start()
    yield library, server, docs
    server.close()


def raw_call(path: Path, payload: bytes, header: bytes | None = None) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(path))
        sock.sendall((header if header is not None else struct.pack(">I", len(payload))) + payload)
        size = struct.unpack(">I", _exactly(sock, 4))[0]
        return json.loads(_exactly(sock, size))


def _exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        part = sock.recv(size - len(data))
        assert part, "the server closed without answering"
        data += part
    return data


def request(path: Path, op: object, params: object = None) -> dict:
    return raw_call(path, json.dumps({"op": op, "params": params or {}}).encode())


def test_socket_and_folder_are_the_users_alone(served):
    _, server, _ = served
    info = os.lstat(server.path)
    assert stat.S_ISSOCK(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
    assert stat.S_IMODE(os.lstat(server.path.parent).st_mode) == 0o700
    assert server.path == socket_path(served[0].path)


def test_search_then_read_the_passage_by_its_id(served):
    lib, server, docs = served
    reply = request(server.path, "search", {"query": "tax return", "k": 5, "mode": "bm25"})
    assert reply["ok"] is True
    first = reply["result"]["results"][0]
    assert first["path"] == str(docs / "tax.txt") and first["page"] == 1 and "tax" in first["snippet"]
    assert {"id", "title", "score", "related", "also_at"} <= set(first) and "showing_results_for" in reply["result"]
    passage = request(server.path, "read", {"id": first["id"]})["result"]
    assert passage["text"].startswith("The tax return is due in April.")
    page = request(server.path, "read", {"id": first["id"], "page": 1})["result"]
    assert "blue folder" in page["text"] and page["page"] == 1


def test_client_results_are_the_librarys_own(served):
    lib, server, _ = served
    with connect(lib.path) as client:
        served_results = results_from_dict(client.call("search", {"query": "tomatoes", "mode": "bm25"}))
    own = lib.find("tomatoes", 10, mode="bm25")
    assert [(h.path, h.score, h.page, h.snippet) for h in served_results.hits] == \
           [(h.path, h.score, h.page, h.snippet) for h in own.hits]


@pytest.mark.parametrize(("params", "code"), [
    ({"query": "tax", "k": 101}, "bad-request"),
    ({"query": "tax", "k": "10"}, "bad-request"),
    ({"query": "x" * 1001}, "bad-request"),
    ({"query": 42}, "bad-request"),
    ({"query": "tax", "mode": "psychic"}, "bad-request"),
    ({"query": "tax", "type": "exe"}, "bad-request"),
    ({"query": "tax", "sneaky": True}, "bad-request"),
])
def test_bad_search_parameters_are_refused(served, params, code):
    reply = request(served[1].path, "search", params)
    assert reply == {"ok": False, "error": {"code": code, "message": reply["error"]["message"]}}
    assert "\n" not in reply["error"]["message"] and "Traceback" not in reply["error"]["message"]


def test_unknown_operation_and_bad_requests(served):
    path = served[1].path
    assert request(path, "drop_tables")["error"]["code"] == "unknown-operation"
    assert request(path, 7)["error"]["code"] == "bad-request"
    assert raw_call(path, b"{not json")["error"]["code"] == "bad-json"
    assert raw_call(path, b"[1, 2]")["error"]["code"] == "bad-request"
    assert raw_call(path, b"\xff\xfe")["error"]["code"] == "bad-json"


def test_oversized_frame_is_refused_before_it_is_read(served):
    reply = raw_call(served[1].path, b"", header=struct.pack(">I", MAX_FRAME + 1))
    assert reply["error"]["code"] == "too-large"


def test_reading_outside_every_source_is_refused(served, tmp_path: Path):
    path = served[1].path
    secret = tmp_path / "secret.txt"
    secret.write_text("not indexed")
    for target in (str(secret), "/etc/passwd", str(served[2] / ".." / "secret.txt")):
        assert request(path, "read", {"path": target})["error"]["code"] == "outside-sources"
    assert request(path, "read", {"path": "relative.txt"})["error"]["code"] == "bad-request"
    assert request(path, "read", {"id": "99999"})["error"]["code"] == "not-found"
    assert request(path, "read", {"id": "1; DROP TABLE documents"})["error"]["code"] == "bad-request"


def test_a_document_whose_source_was_removed_cannot_be_read(served):
    lib, server, docs = served
    hit = request(server.path, "search", {"query": "tomatoes", "mode": "bm25"})["result"]["results"][0]
    lib.remove(docs)
    assert request(server.path, "read", {"id": hit["id"]})["error"]["code"] == "not-found"


def test_writes_are_refused_unless_allowed(served):
    lib, server, docs = served
    for op, params in (("index", {}), ("add_source", {"path": str(docs)})):
        assert request(server.path, op, params)["error"]["code"] == "read-only"
    allowed = Operations(lib, allow_write=True)
    assert allowed.call("index", {})["unchanged"] == 2


def test_a_request_over_its_time_limit_is_abandoned_with_an_error(library, runtime):
    """Every worker busy (index runs waiting for the write slot, held here): a read that cannot
    start in time is answered with "timeout" instead of hanging."""
    operations = Operations(library, allow_write=True)
    server = ServiceServer(operations, library.path, request_timeout=0.5).start()
    writers = []
    try:
        with operations.write_lock:
            for _ in range(WORKERS):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(30)
                sock.connect(str(server.path))
                body = json.dumps({"op": "index", "params": {}}).encode()
                sock.sendall(struct.pack(">I", len(body)) + body)
                writers.append(sock)
            for _ in range(50):  # until the index requests hold every worker (they arrive in any order)
                started = time.monotonic()
                reply = request(server.path, "status")
                if not reply["ok"]:
                    break
                time.sleep(0.1)
            assert reply["error"]["code"] == "timeout" and time.monotonic() - started < 10
        for sock in writers:  # the slot is free again: each index run is answered
            size = struct.unpack(">I", _exactly(sock, 4))[0]
            assert json.loads(_exactly(sock, size))["ok"] is True
    finally:
        for sock in writers:
            sock.close()
        server.close()


def test_a_second_server_is_refused_and_a_stale_socket_replaced(library, runtime):
    first = ServiceServer(Operations(library), library.path).start()
    with pytest.raises(ServiceRunning):
        ServiceServer(Operations(library), library.path).start()
    path = first.path
    first.close()
    assert not path.exists()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))  # a socket file nobody listens on (a server that died)
    stale.close()
    assert connect(library.path) is None  # the client falls back instead of hanging
    with ServiceServer(Operations(library), library.path) as second:
        assert request(second.path, "status")["ok"] is True


def test_a_file_that_is_not_a_socket_is_left_alone(library, runtime):
    path = socket_path(library.path, create=True)
    path.write_text("someone's notes")
    with pytest.raises(ServiceUnavailable, match="not a socket"):
        ServiceServer(Operations(library), library.path).start()
    assert path.read_text() == "someone's notes"
    assert connect(library.path) is None


def test_a_runtime_folder_of_another_user_is_refused(library, runtime):
    if os.geteuid() != 0:
        pytest.skip("needs root to make a folder owned by another user")
    folder = runtime / "memex"
    folder.mkdir(mode=0o700)
    os.chown(folder, 65534, 65534)
    with pytest.raises(ServiceUnavailable, match="not a folder of yours"):
        ServiceServer(Operations(library), library.path)
    assert connect(library.path) is None


def _as_nobody_connect(path: Path) -> str:
    """Connect from a forked child that dropped to user nobody; what it got, as text."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read_end)
        outcome = "?"
        try:
            os.setgid(65534)
            os.setuid(65534)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(5)
                sock.connect(str(path))
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    sock.sendall(struct.pack(">I", 15) + b'{"op":"status"}')  # refused first? still read it
                size = struct.unpack(">I", _exactly(sock, 4))[0]
                outcome = json.loads(_exactly(sock, size))["error"]["code"]
        except PermissionError:
            outcome = "permission-denied"
        except Exception as exc:  # noqa: BLE001 - reported to the parent
            outcome = f"{type(exc).__name__}: {exc}"
        os.write(write_end, outcome.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        outcome = pipe.read().decode()
    os.waitpid(pid, 0)
    return outcome


def test_another_user_cannot_use_the_socket(served):
    if os.geteuid() != 0:
        pytest.skip("needs root to drop privileges to another user in a child")
    path = served[1].path
    os.chmod(path.parent.parent, 0o755)  # the runtime folder open to all: Memex's own guards alone
    assert _as_nobody_connect(path) == "permission-denied"  # the 0700 folder and the 0600 socket
    # Even with the file permissions opened wide, the peer's uid is checked on every connection.
    os.chmod(path.parent, 0o777)
    os.chmod(path, 0o777)
    try:
        assert _as_nobody_connect(path) == "refused"
    finally:
        os.chmod(path, 0o600)
        os.chmod(path.parent, 0o700)


def test_request_errors_are_one_line():
    err = RequestError("failed", "first line\nTraceback (most recent call last):\n  File x")
    assert "\n" not in err.message and err.to_dict()["code"] == "failed"


def test_frames_carry_any_text_exactly():
    """A snippet may hold a lone surrogate (a file's undecodable bytes): it comes back as it went."""
    left, right = socket.socketpair()
    with left, right:
        value = {"text": "caf\u00e9 \udc80 \U0001f600 \x00"}
        send(left, value, MAX_FRAME)
        assert receive(right, MAX_FRAME) == value


def test_status_through_the_service_keeps_the_language_hint() -> None:
    import dataclasses

    from memex.core.service.client import status_from_dict
    from memex.core.types import LibraryStatus

    status = LibraryStatus(path="/l.db", size_bytes=1, sources=0, documents=3, failed=0, chunks=9,
                           chunks_embedded=9, embedder="e", reranker=None, schema_version=6,
                           language_hint="Most of this library is not in English")
    back, _, _ = status_from_dict({**dataclasses.asdict(status), "sources": [], "failed_files": []})
    assert back.language_hint == status.language_hint
