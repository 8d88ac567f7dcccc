"""Where the service of one library listens: a Unix domain socket in the user's runtime folder
(``$XDG_RUNTIME_DIR/memex``, else platformdirs' runtime folder), one per library file.

The folder is the user's alone (0700, owned by them, inside a folder owned by them or by the
system); anything else there is refused in one line, never changed. Where it lies is
:mod:`.address`'s rule, which the CLI's quick client shares.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import sys
from pathlib import Path

from ..errors import MemexError
from . import address
from .address import FOLDER_NAME, MAX_SOCKET_PATH


class ServiceUnavailable(MemexError):
    """No service can listen or be reached here; the message is one line for the user."""


def supported() -> bool:
    """Unix domain sockets with file permissions: Linux, macOS, the BSDs. On Windows the
    service would need a named pipe with the user's ACL, which Memex does not provide: the CLI
    there always opens the library itself."""
    return hasattr(socket, "AF_UNIX") and sys.platform != "win32"


def runtime_base() -> Path:
    return Path(address.runtime_base())


def service_folder(create: bool) -> Path | None:
    """The user's service folder, made 0700 when ``create``; None when it does not exist and
    ``create`` is False. ServiceUnavailable when it exists but is not safely the user's."""
    folder = runtime_base() / FOLDER_NAME
    if create:
        folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        return None
    _check_folder(folder, info)
    return folder


def _check_folder(folder: Path, info: os.stat_result) -> None:
    uid = os.getuid()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid:
        raise ServiceUnavailable(f"{folder} is not a folder of yours; Memex leaves it alone and "
                                 "runs no service.")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(folder, 0o700)  # ours: close it to everyone else before using it
    if not address.parent_is_safe(os.lstat(folder.parent)):
        raise ServiceUnavailable(f"{folder.parent} can be changed by other users; Memex runs no "
                                 "service there (set XDG_RUNTIME_DIR to a folder of yours).")


def socket_name(library: Path) -> str:
    """One name per library file (its resolved path), short enough for any socket path."""
    return address.socket_name(str(library))


def socket_path(library: Path, *, create: bool = False) -> Path | None:
    """Where the service of ``library`` (an absolute, resolved path) listens; None when no
    service folder exists (and ``create`` is False)."""
    folder = service_folder(create)
    if folder is None:
        return None
    path = folder / socket_name(library)
    if len(os.fsencode(str(path))) > MAX_SOCKET_PATH:
        raise ServiceUnavailable(f"The runtime folder's path is too long for a socket ({path}); "
                                 "set XDG_RUNTIME_DIR to a shorter one.")
    return path
