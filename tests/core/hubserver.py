"""A small local HTTP server laid out like the Hugging Face Hub's file endpoints, for tests.

``HEAD/GET /{owner}/{repo}/resolve/{revision}/{path}`` answer with the headers huggingface_hub
reads (``X-Repo-Commit``, ``ETag``/``X-Linked-Etag``, ``X-Linked-Size``, ``Content-Length``)
and honour ``Range: bytes=N-``. Faults can be injected: a file served with other bytes than its
checksum says, a connection dropped part-way, a delay per chunk, and a lying server: one that
announces a smaller size than it sends (``declared``), or sends without any Content-Length,
its body ending only when it closes the connection (``no_length``).
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

CHUNK = 64 * 1024


@dataclass
class Repo:
    commit: str
    files: dict[str, bytes]


@dataclass
class Request:
    method: str
    path: str
    range: str | None


@dataclass
class FakeHub:
    repos: dict[str, Repo] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    corrupt: dict[str, bytes] = field(default_factory=dict)  # repo path -> bytes served instead
    # repo path -> (bytes, times): the next ``times`` responses close the connection after ``bytes``
    drops: dict[str, tuple[int, int]] = field(default_factory=dict)
    chunk_delay: float = 0.0
    declared: dict[str, int] = field(default_factory=dict)  # repo path -> size announced by HEAD
    # repo paths whose GET has no Content-Length (and whose HEAD has no size unless ``declared``)
    no_length: set[str] = field(default_factory=set)
    server: ThreadingHTTPServer | None = None

    def add_repo(self, repo: str, files: dict[str, bytes], commit: str | None = None) -> str:
        commit = commit or hashlib.sha1(repo.encode()).hexdigest()
        self.repos[repo] = Repo(commit, files)
        return commit

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def ranges(self, suffix: str) -> list[str | None]:
        return [r.range for r in self.requests if r.method == "GET" and r.path.endswith(suffix)]

    def start(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:  # noqa: N802
                self._answer(body=False)

            def do_GET(self) -> None:  # noqa: N802
                self._answer(body=True)

            def _answer(self, body: bool) -> None:
                hub.requests.append(Request(self.command, self.path, self.headers.get("Range")))
                parts = unquote(urlsplit(self.path).path).strip("/").split("/")
                if len(parts) < 5 or parts[2] != "resolve":
                    return self._error(404, "EntryNotFound")
                repo_id, revision, file_path = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
                repo = hub.repos.get(repo_id)
                if repo is None:
                    return self._error(404, "RepoNotFound")
                if revision not in ("main", repo.commit):
                    return self._error(404, "RevisionNotFound")
                data = repo.files.get(file_path)
                if data is None:
                    return self._error(404, "EntryNotFound")
                served = hub.corrupt.get(file_path, data)
                start = 0
                wanted = self.headers.get("Range")
                if wanted and wanted.startswith("bytes="):
                    start = int(wanted[6:].split("-")[0])
                    if start >= len(served):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(served)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return None
                self.send_response(206 if start else 200)
                self.send_header("X-Repo-Commit", repo.commit)
                announced = hub.declared.get(file_path) if not body else None
                sized = file_path not in hub.no_length or announced is not None
                if file_path.endswith(".onnx") or len(data) > 100_000:  # stored in LFS
                    self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                    self.send_header("X-Linked-Etag", f'"{hashlib.sha256(data).hexdigest()}"')
                    if sized:
                        self.send_header("X-Linked-Size", str(hub.declared.get(file_path, len(data))))
                else:
                    blob = hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()
                    self.send_header("ETag", f'"{blob}"')
                self.send_header("Accept-Ranges", "bytes")
                if sized:  # else HTTP/1.0 ends the body by closing the connection
                    self.send_header("Content-Length", str(announced if announced is not None else len(served) - start))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(served) - 1}/{len(served)}")
                self.end_headers()
                if not body:
                    return None
                after, times = hub.drops.get(file_path, (None, 0))
                drop_at = start + after if after is not None and times > 0 else None
                position = start
                while position < len(served):
                    end = min(len(served), position + CHUNK)
                    if drop_at is not None and position < drop_at <= end:
                        self.wfile.write(served[position:drop_at])
                        self.wfile.flush()
                        hub.drops[file_path] = (after, times - 1)
                        self.close_connection = True
                        return None
                    try:
                        self.wfile.write(served[position:end])
                    except (BrokenPipeError, ConnectionResetError):
                        return None
                    position = end
                    if hub.chunk_delay:
                        time.sleep(hub.chunk_delay)
                return None

            def _error(self, code: int, kind: str) -> None:
                self.send_response(code)
                self.send_header("X-Error-Code", kind)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
