"""``memex``'s entry point. ``search`` and ``status`` are answered by the library's resident
service (the window or ``memex serve``) for the cost of a Python start and one socket round
trip: the service runs the command line's own parser, command and output code over its open
library and sends back what it wrote. Every other command, and every call the service cannot
answer exactly as ``memex`` itself would (no service, another environment, --help, a parse
error, models of its own), runs the full command line (:mod:`memex.core.cli.main`).

Only the standard library's essentials load here (no argparse, no settings, no value types):
this is what every ``memex`` call pays before it knows which way it goes.
"""

from __future__ import annotations

import json
import os
import sys

QUICK_COMMANDS = ("search", "status")
# The environment a search's or status's output depends on besides the library: where the
# settings and the default library are (their warnings, their library), the time zone (dates
# in --json, --after/--before), ~ in paths. The service answers only when its own is the same.
ENVIRONMENT = ("HOME", "MEMEX_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "TZ")
NO_SERVICE_ENV = "MEMEX_NO_SERVICE"  # set: every command opens the library itself
DEBUG_ENV = "MEMEX_DEBUG"
OPERATION = "cli"
LIBRARY_OPTION = "--library"
APP_FOLDER = "Memex"  # config.APP_NAME: the folder of settings and of the default library
EXIT_BROKEN_PIPE = 141
CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 40.0  # the service's own limit per request (30 s) and some slack


Writes = list[tuple[int, str]]  # (1 for stdout or 2 for stderr, text), in the order written


def main() -> int:
    argv = sys.argv[1:]
    try:
        answer = ask_service(argv)
    except KeyboardInterrupt:
        print("memex: interrupted", file=sys.stderr)
        return 130
    if answer is None:
        from .main import main as full

        return full(argv)
    return write_answer(*answer)


def ask_service(argv: list[str]) -> tuple[Writes, int] | None:
    """What ``memex ARGV`` writes and its exit status, from the service; None when the full
    command line must run (nothing has been written then)."""
    if not argv or argv[0] not in QUICK_COMMANDS or os.environ.get(NO_SERVICE_ENV) or os.environ.get(DEBUG_ENV):
        return None
    if sys.platform == "win32":
        return None
    library = library_of(argv)
    if library is None:
        return None
    from ..service.address import socket_file

    path = socket_file(library)
    if path is None:
        return None
    try:
        request = {"argv": argv, "cwd": os.getcwd(), "library": library, "tty": _terminals(),
                   "no_color": "NO_COLOR" in os.environ,
                   "env": {name: os.environ.get(name) for name in ENVIRONMENT}}
    except OSError:  # the current folder is gone: the full command line says what that means
        return None
    return _exchange(path, request)


def _exchange(path: str, request: dict[str, object]) -> tuple[Writes, int] | None:
    import _socket as sockets  # what the socket module wraps (always there), without its ~3 ms import

    from ..service.protocol import MAX_FRAME, MAX_REPLY, FrameError, RequestError, receive, send

    sock = sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM)
    try:
        sock.settimeout(CONNECT_TIMEOUT_S)
        sock.connect(path)
        sock.settimeout(READ_TIMEOUT_S)
        send(sock, {"op": OPERATION, "params": request}, MAX_FRAME)
        reply = receive(sock, MAX_REPLY)
    except (OSError, FrameError, RequestError, ValueError):  # stale, gone, slow, garbled
        return None
    finally:
        sock.close()
    result = reply.get("result") if reply and reply.get("ok") is True else None
    # refused (an older service, a bad request) or answered "fallback": run it here
    return _answer(result) if isinstance(result, dict) else None


def _answer(result: dict[str, object]) -> tuple[Writes, int] | None:
    writes, code = result.get("writes"), result.get("code")
    if not isinstance(code, int) or isinstance(code, bool) or not isinstance(writes, list):
        return None
    checked: Writes = []
    for item in writes:
        if not (isinstance(item, list) and len(item) == 2 and item[0] in (1, 2) and isinstance(item[1], str)):
            return None
        checked.append((int(item[0]), item[1]))
    return checked, code


def _terminals() -> list[bool]:
    return [_isatty(sys.stdout), _isatty(sys.stderr)]


def _isatty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (ValueError, OSError):  # closed
        return False


def write_answer(writes: Writes, code: int) -> int:
    """Write what the command wrote, in its order, as ``memex`` writes (text the terminal's
    encoding cannot show comes out escaped); its exit status."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        for fd, text in writes:
            stream = sys.stdout if fd == 1 else sys.stderr
            stream.write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (memex search … | head): as memex does
        quiet_stdout()
        return EXIT_BROKEN_PIPE
    return code


def quiet_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)


# -- which library: the one memex would open (the service checks it against its own rule) --
def library_of(argv: list[str]) -> str | None:
    """The resolved library file ``memex ARGV`` means: its ``--library`` (argparse's
    abbreviations too), else the settings' library, else the default one. None when that
    cannot be told cheaply (the full command line then decides)."""
    chosen = _library_option(argv[1:])
    if chosen is None:
        chosen = _settings_library()
    if chosen is None or "\0" in chosen:
        return None
    try:
        chosen.encode("utf-8")
        return os.path.realpath(os.path.expanduser(chosen))
    except (UnicodeEncodeError, OSError, ValueError):
        return None


def _library_option(args: list[str]) -> str | None:
    found = None
    index = 0
    while index < len(args):
        token = args[index]
        if token == "--":
            break
        name, equals, value = token.partition("=")
        if len(name) > 2 and LIBRARY_OPTION.startswith(name):
            if equals:
                found = value
            elif index + 1 < len(args):
                found = args[index + 1]
                index += 1
        index += 1
    return found


def _settings_library() -> str | None:
    """``library`` from the settings file, or the default library; None when the settings
    file is anything but a readable JSON object with a usable ``library`` (or none)."""
    places = _user_places()
    if places is None:
        return None
    config, data = places
    try:
        with open(os.path.join(config, "settings.json"), encoding="utf-8") as file:
            settings = json.load(file)
    except FileNotFoundError:
        settings = {}
    except (OSError, ValueError):
        return None
    if not isinstance(settings, dict):
        return None
    chosen = settings.get("library")
    if chosen is None:
        return os.path.join(data, "library.db")
    return chosen if isinstance(chosen, str) else None


def _user_places() -> tuple[str, str] | None:
    """(settings folder, data folder) as ``config`` finds them, on the common paths: MEMEX_HOME,
    or the XDG folders on Linux. None elsewhere (the full command line asks platformdirs)."""
    home = os.environ.get("MEMEX_HOME")
    if home:
        return home, home
    if not sys.platform.startswith("linux"):
        return None
    return _xdg("XDG_CONFIG_HOME", "~/.config"), _xdg("XDG_DATA_HOME", "~/.local/share")


def _xdg(variable: str, fallback: str) -> str:
    chosen = os.environ.get(variable, "").strip()
    base = chosen if chosen and os.path.isabs(chosen) else os.path.expanduser(fallback)
    return os.path.join(base, APP_FOLDER)
