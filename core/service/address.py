"""Where the service of a library listens, as a rule both sides share: the service
(:mod:`.place`, which also makes and checks the folder) and the CLI's quick client
(``memex.core.cli.quick``, which must find the socket without loading anything else).

Standard library only; platformdirs is imported only when ``XDG_RUNTIME_DIR`` is unset.
"""

from __future__ import annotations

import os
import stat

try:  # the hash alone: hashlib would load OpenSSL first (~3 ms of a ~40 ms call)
    from _sha256 import sha256  # Python 3.11
except ImportError:
    try:
        from _sha2 import sha256  # Python 3.12 on
    except ImportError:
        from hashlib import sha256

FOLDER_NAME = "memex"
MAX_SOCKET_PATH = 100  # bytes: sun_path holds 104 (macOS) to 108 (Linux) with its NUL


def runtime_base() -> str:
    """``$XDG_RUNTIME_DIR`` when it is an absolute path, else platformdirs' runtime folder."""
    chosen = os.environ.get("XDG_RUNTIME_DIR", "")
    if chosen and os.path.isabs(chosen):
        return chosen
    import warnings

    import platformdirs

    with warnings.catch_warnings():  # "XDG_RUNTIME_DIR is not set, falling back to …"
        warnings.simplefilter("ignore")
        return str(platformdirs.user_runtime_dir(None, False))


def service_folder_path() -> str:
    return os.path.join(runtime_base(), FOLDER_NAME)


def socket_name(library: str) -> str:
    """One name per library file (its resolved path), short enough for any socket path."""
    digest = sha256(os.fsencode(library)).hexdigest()[:24]
    return f"library-{digest}.sock"


def parent_is_safe(info: os.stat_result) -> bool:
    """Whether the folder holding the service folder is the user's or the system's, and not
    open to changes by others (unless sticky, as /tmp is)."""
    return info.st_uid in (os.getuid(), 0) and not (
        stat.S_IMODE(info.st_mode) & 0o022 and not info.st_mode & stat.S_ISVTX)


def socket_file(library: str) -> str | None:
    """The socket a service of ``library`` (absolute, resolved) listens on, when one is there:
    a socket of the user's in a service folder that is the user's alone. None otherwise (no
    service, or a place that is not safe to talk through); never raises for a missing place."""
    try:
        folder = service_folder_path()
        info = os.lstat(folder)
        uid = os.getuid()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid or stat.S_IMODE(info.st_mode) & 0o077:
            return None
        if not parent_is_safe(os.lstat(os.path.dirname(folder))):
            return None
        path = os.path.join(folder, socket_name(library))
        if len(os.fsencode(path)) > MAX_SOCKET_PATH:
            return None
        found = os.lstat(path)
    except (OSError, ValueError):  # missing, unreadable, a NUL or an undecodable name
        return None
    if not stat.S_ISSOCK(found.st_mode) or found.st_uid != uid:
        return None
    return path
