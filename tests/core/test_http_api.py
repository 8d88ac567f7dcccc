"""The HTTP API (``memex serve --http``) as a hostile client on this computer sees it: a real
library, a real server on a real loopback port, raw HTTP. Every refusal is a JSON error."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from memex.core.library import Library
from memex.core.service import http_api
from memex.core.service.http_api import HttpApiError, serve_http
from memex.core.service.operations import Operations

SECRET = "zanzibar-marmalade-4417"


def fill_docs(root: Path) -> Path:
    """Two documents in ``root/docs``, and a private file beside the folder, linked from it."""
    folder = root / "docs"
    folder.mkdir()
    (folder / "tax.txt").write_text("The tax return is due in April.\nReceipts go in the blue folder.\n")
    (folder / "garden.md").write_text("# Garden\n\nTomatoes need sun and water every day.\n")
    (root / "private.txt").write_text(f"My bank password is {SECRET}.\n")
    (folder / "link.txt").symlink_to(root / "private.txt")  # leads out of the source
    return folder


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, embedder):
    """One read-only API over one indexed library for the module's requests."""
    root = tmp_path_factory.mktemp("http")
    (root / "home" / "cache").mkdir(parents=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEMEX_HOME", str(root / "home"))
        with Library.open(root / "library.db", embedder=embedder) as library:
            folder = fill_docs(root)
            library.index([folder])
            server = serve_http(Operations(library), "127.0.0.1", 0, root / "run" / "token")
            try:
                yield server, folder
            finally:
                server.close()


@pytest.fixture
def api(served) -> http_api.HttpApi:
    return served[0]


@pytest.fixture
def docs(served) -> Path:
    return served[1]


def token_of(api: http_api.HttpApi) -> str:
    return api.token_file.read_text().strip()


def request(api: http_api.HttpApi, path: str, body: object = None, *, method: str = "POST",
            token: str | None = "", host: str | None = None, headers: dict[str, str] | None = None
            ) -> tuple[int, dict, dict]:
    """(status, JSON body, headers); ``token=""`` sends the right token, None none at all."""
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    sent = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:
        sent["Authorization"] = f"Bearer {token or token_of(api)}"
    conn.putrequest(method, path, skip_host=True)
    conn.putheader("Host", host if host is not None else f"127.0.0.1:{api.port}")
    data = json.dumps(body).encode() if body is not None else b""
    for key, value in {**sent, "Content-Length": str(len(data))}.items():
        conn.putheader(key, value)
    conn.endheaders(data)
    reply = conn.getresponse()
    raw = reply.read()
    conn.close()
    return reply.status, json.loads(raw) if raw else {}, {k.lower(): v for k, v in reply.getheaders()}


def raw_exchange(api: http_api.HttpApi, data: bytes, wait: float = 10.0) -> bytes:
    with socket.create_connection(("127.0.0.1", api.port), timeout=wait) as sock:
        sock.sendall(data)
        chunks = []
        while part := sock.recv(65536):
            chunks.append(part)
    return b"".join(chunks)


def test_token_file_is_the_users_alone_and_answers_search(api, docs):
    info = os.lstat(api.token_file)
    assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
    assert len(token_of(api)) >= 40
    status, body, headers = request(api, "/v1/search", {"query": "tax return", "k": 3, "mode": "bm25"})
    assert status == 200 and headers["content-type"].startswith("application/json")
    first = body["results"][0]
    assert first["path"] == str(docs / "tax.txt") and first["page"] == 1 and "tax" in first["snippet"]
    status, read, _ = request(api, "/v1/read", {"id": first["id"]})
    assert status == 200 and "Receipts go in the blue folder" in read["text"]
    assert request(api, "/v1/status", {})[1]["documents"] == 2


@pytest.mark.parametrize("token", [None, "wrong", "Basic"])
def test_refused_without_the_right_token(api, token):
    headers = {"Authorization": f"Basic {token_of(api)}"} if token == "Basic" else None
    status, body, sent = request(api, "/v1/search", {"query": "tax"}, token=None if token != "wrong" else "x" * 43,
                                 headers=headers)
    assert status == 401 and body["error"]["code"] == "unauthorized" and "results" not in body
    assert sent["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1:1", "localhost.evil.example:{port}",
                                  "", "192.168.1.20:{port}"])
def test_refused_with_a_host_header_not_this_loopback(api, host):
    status, body, _ = request(api, "/v1/search", {"query": "tax"}, host=host.format(port=api.port))
    assert status == 403 and body["error"]["code"] == "bad-host" and "results" not in body


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}"])
def test_loopback_names_are_accepted(api, host):
    assert request(api, "/v1/sources", {}, host=host.format(port=api.port))[0] == 200


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.com", "10.0.0.1"])
def test_a_bind_that_is_not_loopback_is_refused(library, tmp_path: Path, host):
    token = tmp_path / "token"
    with pytest.raises(HttpApiError, match="this computer only"):
        serve_http(Operations(library), host, 0, token)
    assert not token.exists()


def test_a_port_in_use_is_one_line_and_keeps_the_running_apis_token(library, tmp_path: Path):
    token = tmp_path / "token"
    first = serve_http(Operations(library), "127.0.0.1", 0, token)
    try:
        running = token_of(first)
        with pytest.raises(HttpApiError, match=f"port {first.port}"):
            serve_http(Operations(library), "127.0.0.1", first.port, token)
        assert token_of(first) == running  # the API on that port still answers its token
    finally:
        first.close()


def test_no_cors_and_no_other_methods(api):
    preflight = {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    status, body, headers = request(api, "/v1/search", method="OPTIONS", token=None, headers=preflight)
    assert status == 405 and body["error"]["code"] == "method-not-allowed"
    assert not [h for h in headers if h.startswith("access-control-")]
    status, _, headers = request(api, "/v1/sources", {}, headers={"Origin": "http://evil.example"})
    assert status == 200 and not [h for h in headers if h.startswith("access-control-")]
    for method in ("GET", "PUT", "DELETE"):
        assert request(api, "/v1/status", method=method)[0] == 405


def test_reads_outside_every_source_are_refused(api, docs):
    for path in (docs.parent / "private.txt", docs / ".." / "private.txt", docs / "link.txt", Path("/etc/passwd")):
        status, body, _ = request(api, "/v1/read", {"path": str(path)})
        assert status == 403 and body["error"]["code"] == "outside-sources", path
        assert SECRET not in json.dumps(body)


def test_bad_requests_get_structured_errors(api):
    cases = [("/v1/search", {"query": "tax", "k": 10_000}, 400, "bad-request"),
             ("/v1/search", {"querry": "tax"}, 400, "bad-request"),
             ("/v1/nope", {}, 404, "unknown-operation"),
             ("/v2/search", {}, 404, "not-found"),
             ("/v1/search", ["tax"], 400, "bad-json"),
             ("/v1/add_source", {"path": "/"}, 403, "read-only"),
             ("/v1/index", {}, 403, "read-only")]
    for path, body, status, code in cases:
        got_status, got, _ = request(api, path, body)
        assert (got_status, got["error"]["code"]) == (status, code), (path, body, got)
        assert "Traceback" not in got["error"]["message"]
    assert request(api, "/v1/search", {"query": "tax"}, headers={"Content-Type": "text/plain"})[0] == 415
    garbage = raw_exchange(api, b"\x16\x03\x01 not http at all\r\n\r\n")
    assert garbage.startswith(b"HTTP/1.") and b'"error"' in garbage and b"Traceback" not in garbage


def test_an_oversized_body_is_refused_unread(api):
    head = (f"POST /v1/search HTTP/1.1\r\nHost: 127.0.0.1:{api.port}\r\nAuthorization: Bearer {token_of(api)}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {50 * 1024 * 1024}\r\n\r\n").encode()
    started = time.monotonic()
    reply = raw_exchange(api, head + b'{"query": "')  # the rest never comes: it is not waited for
    assert reply.startswith(b"HTTP/1.0 413") and b'"too-large"' in reply
    assert time.monotonic() - started < 5


def test_a_slow_sender_is_cut_off(api, monkeypatch: pytest.MonkeyPatch):
    """Each byte comes in time, but the whole request does not: the connection is closed."""
    monkeypatch.setattr(http_api, "READ_SECONDS", 1.0)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", api.port), timeout=10) as sock, \
            pytest.raises(OSError):  # reset or broken pipe once the server has hung up
        for byte in b"POST /v1/search HTTP/1.1\r\nHost: 127.0.0.1" * 10:
            sock.sendall(bytes([byte]))
            time.sleep(0.1)
            assert time.monotonic() - started < 8, "never cut off"
    assert time.monotonic() - started < 5


def test_token_file_never_follows_a_link(library, tmp_path: Path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me\n")
    link = tmp_path / "token"
    link.symlink_to(target)
    with pytest.raises(HttpApiError, match="not a token file"):
        serve_http(Operations(library), "127.0.0.1", 0, link)
    assert target.read_text() == "keep me\n" and link.is_symlink()


def test_a_token_file_that_cannot_be_written_is_one_line(library, tmp_path: Path):
    (tmp_path / "a-file").write_text("not a folder\n")
    (tmp_path / "a-folder").mkdir()
    with pytest.raises(HttpApiError, match="Cannot write the token file"):
        serve_http(Operations(library), "127.0.0.1", 0, tmp_path / "a-file" / "token")
    with pytest.raises(HttpApiError, match="not a token file"):
        serve_http(Operations(library), "127.0.0.1", 0, tmp_path / "a-folder")
    assert (tmp_path / "a-folder").is_dir() and (tmp_path / "a-file").read_text() == "not a folder\n"


def test_token_is_new_each_start_and_removed_at_close(library, tmp_path: Path):
    path = tmp_path / "token"
    path.write_text("an old token\n")
    os.chmod(path, 0o644)
    first = serve_http(Operations(library), "localhost", 0, path)
    token = token_of(first)
    assert token != "an old token" and stat.S_IMODE(os.lstat(path).st_mode) == 0o600
    first.close()
    assert not path.exists()
    second = serve_http(Operations(library), "::1", 0, path) if socket.has_ipv6 else None
    if second is not None:
        try:
            assert token_of(second) != token and second.url.startswith("http://[::1]:")
        finally:
            second.close()


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="memex serve needs Unix sockets")
def test_memex_serve_http_end_to_end(library, tmp_path: Path):
    """The command as a user runs it: a process that prints where it listens and writes the token."""
    docs = fill_docs(tmp_path)
    library.index([docs])
    library.close()
    runtime = tempfile.mkdtemp(prefix="mx")
    token = tmp_path / "token"
    script = Path(sys.executable).with_name("memex")
    env = {**os.environ, "XDG_RUNTIME_DIR": runtime, "NO_COLOR": "1"}
    refused = subprocess.run([str(script), "serve", "--library", str(library.path), "--http", "--host", "0.0.0.0"],
                             capture_output=True, text=True, timeout=120, env=env)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1 and "this computer only" in refused.stderr
    proc = subprocess.Popen([str(script), "serve", "--library", str(library.path), "--no-watch", "--http",
                             "--port", "0", "--token-file", str(token)], stderr=subprocess.PIPE, text=True, env=env)
    try:
        port = _announced_port(proc)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/v1/search", body=json.dumps({"query": "tomatoes", "mode": "bm25"}),
                     headers={"Authorization": f"Bearer {token.read_text().strip()}",
                              "Content-Type": "application/json"})
        reply = conn.getresponse()
        assert reply.status == 200
        assert json.loads(reply.read())["results"][0]["path"] == str(docs / "garden.md")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        shutil.rmtree(runtime, ignore_errors=True)
    assert proc.returncode == 0 and not token.exists()


def _announced_port(proc: subprocess.Popen) -> int:
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if found:
            return int(found.group(1))
        if not line and proc.poll() is not None:
            break
    raise AssertionError("memex serve --http did not say where it listens")
