"""SQLite's errors said as sentences a person can act on (the command line's last word)."""

from __future__ import annotations

import apsw

AGAIN = "Nothing was lost; free some space and run the same command again."


def database_failure(exc: BaseException, where: str) -> str | None:
    """One line for a database error about the library ``where`` (" at PATH" or ""), else None."""
    if isinstance(exc, apsw.FullError):
        return f"The disk is full: the library{where} cannot grow. {AGAIN}"
    if isinstance(exc, apsw.ReadOnlyError):
        return (f"The library{where} cannot be written: the file or its folder is read-only. "
                "Check its permissions, or choose another library with --library.")
    if isinstance(exc, apsw.CantOpenError):
        return (f"The library{where} cannot be opened: check that its folder exists and that you "
                "may read and write there, or choose another library with --library.")
    if isinstance(exc, apsw.BusyError | apsw.LockedError):
        return f"The library{where} is busy in another Memex process; try again in a moment."
    if isinstance(exc, apsw.IOError):
        return (f"The library{where} could not be read or written (a disk or file system error); "
                "check the disk, then run the same command again.")
    return None
