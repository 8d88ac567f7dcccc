"""``memex serve --http``: the service's operations as a small JSON API on this computer only.

Every request is hostile until proven otherwise. The server listens on a loopback address
only; a request must name that address in its Host header (a web page that rebinds its own
domain name to 127.0.0.1 still sends its own name, and is refused), carry the bearer token
written to a file only the user can read, and fit in a small body. Browsers get no CORS
headers and no preflight (OPTIONS is refused), so no web page can read an answer. Each
operation has a time limit; every error is a JSON object with a code and a sentence, never a
traceback.

``POST /v1/<operation>`` with a JSON object of parameters answers ``200`` with the
operation's JSON result, or a status >= 400 with ``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import logging
import os
import re
import secrets
import socket
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

from ..errors import MemexError
from .protocol import RequestError

log = logging.getLogger(__name__)

DEFAULT_PORT = 8383
MAX_BODY_BYTES = 64 * 1024  # parameters only: a query, an id, a folder path
READ_SECONDS = 10.0  # to send the whole request: line, headers and body
ANSWER_SECONDS = 60.0  # for an operation to answer
INDEX_SECONDS = 3600.0  # for an index run (a first run over a large folder takes a while)
MAX_CONNECTIONS = 16  # open at once; more are turned away until one ends
WORKERS = 4  # operations running at once
_OPERATION_PATH = re.compile(r"/v1/([a-z_]{1,40})")

#: What each error code of the operations means in HTTP; any other code is a bad request.
STATUS_FOR_CODE = {
    "unknown-operation": HTTPStatus.NOT_FOUND,
    "not-found": HTTPStatus.NOT_FOUND,
    "outside-sources": HTTPStatus.FORBIDDEN,
    "read-only": HTTPStatus.FORBIDDEN,
    "too-large": HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    "busy": HTTPStatus.CONFLICT,
    "failed": HTTPStatus.UNPROCESSABLE_ENTITY,
    "internal": HTTPStatus.INTERNAL_SERVER_ERROR,
}


class HttpApiError(MemexError):
    """The API cannot start: a bind that is not loopback, a token file that is not safe."""


class CallsOperations(Protocol):
    def call(self, name: str, params: dict[str, Any]) -> dict[str, Any]: ...


class ApiRefusal(Exception):
    """A request refused before any operation ran (status, code, sentence)."""

    def __init__(self, status: HTTPStatus, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# -- the bind address and the token file ----------------------------------------------------
def loopback_address(host: str) -> str:
    """``host`` as the loopback IP address to bind, or HttpApiError for anything else."""
    name = host.strip().strip("[]")
    if name.lower() == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise HttpApiError(f"The HTTP API listens on this computer only: use 127.0.0.1, ::1 or localhost, "
                           f"not {host!r}.")
    return str(address)


def allowed_hosts(address: str, port: int) -> frozenset[str]:
    """The Host header values a request may carry (lower case): the loopback names and port."""
    names = {"127.0.0.1", "localhost", "[::1]", f"[{address}]" if ":" in address else address}
    return frozenset(f"{name}:{port}" for name in names)


def write_token_file(path: Path, token: str) -> None:
    """``token`` in a new file at ``path``, readable by this user only (0600).

    A leftover token file from an earlier run is replaced; anything at ``path`` that is not
    this user's regular file (a link, a folder, another user's file) is refused and left
    alone. The new file is made with O_EXCL and O_NOFOLLOW, so no link is ever followed."""
    try:
        _create_token_file(path, token)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise HttpApiError(f"Cannot write the token file {path}: {reason}.") from exc


def _create_token_file(path: Path, token: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        old = os.lstat(path)
    except FileNotFoundError:
        old = None
    if old is not None:
        uid = getattr(os, "getuid", None)  # Windows: no owner ids; the profile folder is the user's
        if not stat.S_ISREG(old.st_mode) or (uid is not None and old.st_uid != uid()):
            raise HttpApiError(f"Refusing to replace {path}: it is not a token file of yours (a link, "
                               "a folder or another user's file). Remove it or choose another --token-file.")
        os.unlink(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError as exc:
        raise HttpApiError(f"Something else created {path} at the same moment; start again.") from exc
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, (token + "\n").encode("ascii"))
    finally:
        os.close(fd)


def _remove_token_file(path: Path, token: str) -> None:
    """Remove the token file if it still holds this run's token (never someone else's file)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return
    try:
        held = os.read(fd, 256).decode("ascii", "replace").strip()
    finally:
        os.close(fd)
    if hmac.compare_digest(held, token):
        path.unlink(missing_ok=True)


# -- the server -----------------------------------------------------------------------------
class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], operations: CallsOperations, token: str) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)
        self.operations = operations
        self.token = token
        self.hosts = allowed_hosts(address[0], self.server_address[1])
        self.workers = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="memex-http-op")
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):  # too many at once: turn this one away
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = READ_SECONDS  # a slow sender is cut off
    server_version = "memex"
    sys_version = ""
    error_content_type = "application/json"

    def setup(self) -> None:
        super().setup()
        # The whole request (line, headers, body) must arrive within READ_SECONDS, however
        # slowly it trickles in; the socket timeout alone only bounds each wait.
        self._reading = threading.Timer(READ_SECONDS, self._cut_off)
        self._reading.daemon = True
        self._reading.start()

    def _cut_off(self) -> None:
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def finish(self) -> None:
        self._reading.cancel()
        super().finish()

    # every method but POST: the Host check first, then a refusal
    def do_GET(self) -> None:
        self._refuse_method()

    do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = do_GET

    def do_POST(self) -> None:
        try:
            self._check_host()
            self._check_token()
            name = self._operation_name()
            params = self._read_params()
        except ApiRefusal as refusal:
            self._send_error(refusal.status, refusal.code, refusal.message)
            return
        self._reading.cancel()  # all read: the operation has its own limit
        self._answer(name, params)

    def _refuse_method(self) -> None:
        try:
            self._check_host()
        except ApiRefusal as refusal:
            self._send_error(refusal.status, refusal.code, refusal.message)
            return
        self._send_error(HTTPStatus.METHOD_NOT_ALLOWED, "method-not-allowed",
                         "Use POST /v1/<operation> with a JSON object of parameters.")

    def _check_host(self) -> None:
        host = (self.headers.get("Host") or "").strip().lower()
        if host not in self.server.hosts:
            raise ApiRefusal(HTTPStatus.FORBIDDEN, "bad-host",
                             "The Host header must name this computer's loopback address and port.")

    def _check_token(self) -> None:
        scheme, _, given = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.server.token.encode()):
            raise ApiRefusal(HTTPStatus.UNAUTHORIZED, "unauthorized",
                             "Send the token from the token file as 'Authorization: Bearer <token>'.")

    def _operation_name(self) -> str:
        match = _OPERATION_PATH.fullmatch(self.path)
        if match is None:
            raise ApiRefusal(HTTPStatus.NOT_FOUND, "not-found", "Operations are at /v1/<operation>.")
        return match.group(1)

    def _read_params(self) -> dict[str, Any]:
        if self.headers.get("Transfer-Encoding"):
            raise ApiRefusal(HTTPStatus.LENGTH_REQUIRED, "length-required", "Send the body with a Content-Length.")
        kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise ApiRefusal(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "bad-content-type",
                             "Send the parameters as Content-Type: application/json.")
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if length < 0:
            raise ApiRefusal(HTTPStatus.BAD_REQUEST, "bad-request", "Content-Length is not a length.")
        if length > MAX_BODY_BYTES:
            raise ApiRefusal(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "too-large",
                             f"The body is over {MAX_BODY_BYTES} bytes.")
        body = self.rfile.read(length) if length else b"{}"
        try:
            params = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            params = None
        if not isinstance(params, dict):
            raise ApiRefusal(HTTPStatus.BAD_REQUEST, "bad-json", "The body must be a JSON object.")
        return params

    def _answer(self, name: str, params: dict[str, Any]) -> None:
        limit = INDEX_SECONDS if name == "index" else ANSWER_SECONDS
        future = self.server.workers.submit(self.server.operations.call, name, params)
        try:
            result = future.result(timeout=limit)
        except FutureTimeout:
            self._send_error(HTTPStatus.GATEWAY_TIMEOUT, "timeout",
                             f"{name} took over {limit:.0f} s; its answer was given up.")
            return
        except RequestError as exc:
            self._send_error(STATUS_FOR_CODE.get(exc.code, HTTPStatus.BAD_REQUEST), exc.code, exc.message)
            return
        except Exception as exc:  # noqa: BLE001 - the caller gets a sentence, the log the details
            log.warning("HTTP API: %s failed", name, exc_info=True)
            self._send_error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal",
                             f"Memex could not answer ({type(exc).__name__}).")
            return
        self._send_json(HTTPStatus.OK, result)

    # -- answers ------------------------------------------------------------------------
    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a malformed request line, an unknown method), as JSON."""
        try:
            status = HTTPStatus(code)
        except ValueError:
            status = HTTPStatus.BAD_REQUEST
        if self.request_version == "HTTP/0.9":  # unparsable request line: still a status line and headers
            self.request_version = "HTTP/1.0"
        self._send_error(status, "bad-request" if status < 500 else "internal", status.phrase + ".")

    def _send_error(self, status: HTTPStatus, code: str, message: str) -> None:
        extra = {"WWW-Authenticate": "Bearer"} if status == HTTPStatus.UNAUTHORIZED else {}
        self._send_json(status, {"error": {"code": code, "message": message}}, extra)

    def _send_json(self, status: HTTPStatus, value: object, extra: dict[str, str] | None = None) -> None:
        body = json.dumps(value, ensure_ascii=False).encode("utf-8")
        self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Connection", "close")
        for key, value_text in (extra or {}).items():
            self.send_header(key, value_text)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        log.debug("HTTP API: " + format, *args)


class HttpApi:
    """A running API (its own threads); :meth:`close` stops it and removes the token file."""

    def __init__(self, server: _Server, token_file: Path, token: str) -> None:
        self._server = server
        self._token = token
        self.token_file = token_file
        host, self.port = str(server.server_address[0]), int(server.server_address[1])
        self.url = f"http://{f'[{host}]' if ':' in host else host}:{self.port}"
        self._thread = threading.Thread(target=server.serve_forever, args=(0.1,), name="memex-http", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._server.workers.shutdown(wait=False, cancel_futures=True)
        _remove_token_file(self.token_file, self._token)


def serve_http(operations: CallsOperations, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
               token_file: Path | None = None) -> HttpApi:
    """Start answering ``POST http://host:port/v1/<operation>`` in background threads.

    ``host`` must be a loopback address (else HttpApiError, nothing started); ``port`` 0 picks
    a free one. A new token is written to ``token_file`` (default :func:`default_token_file`)."""
    address = loopback_address(host)
    if not 0 <= port <= 65535:
        raise HttpApiError(f"A port is a whole number from 0 to 65535, not {port}.")
    path = Path(token_file) if token_file is not None else default_token_file()
    token = secrets.token_urlsafe(32)
    try:  # listen first: a port in use must not replace the token of the API already on it
        server = _Server((address, port), operations, token)
    except OSError as exc:
        raise HttpApiError(f"Cannot listen on {address} port {port}: {exc.strerror or exc}.") from exc
    try:
        write_token_file(path, token)
    except BaseException:
        server.server_close()
        server.workers.shutdown(wait=False)
        raise
    return HttpApi(server, path, token)


def default_token_file() -> Path:
    """Where the token goes unless told otherwise: the user's Memex folder, ``http-token``."""
    from ..config import user_dir

    return user_dir() / "http-token"
