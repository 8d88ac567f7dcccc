"""The Store: one open library file — its connections, schema, transactions and caches.

The Library holds one and coordinates; everything that reads or writes the file goes through
a connection the Store opened (one per thread: WAL lets readers run while one writer works),
and every cache of what the file holds lives in the Store's ``StoreCaches``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import apsw

from ..errors import LibraryError
from . import documents as docs
from .caches import LibraryConnection, StoreCaches
from .connection import open_connection, read_snapshot, write_transaction
from .counts import LibraryCounts, library_counts
from .migrations import migrate, pending_migrations, schema_version
from .vocabulary import forget_vocabulary


class Store:
    """Open with a path Memex has proven its own (see ``ownership``); close with :meth:`close`."""

    def __init__(self, path: Path, *, readonly: bool) -> None:
        self.path = path
        self.readonly = readonly
        self.caches = StoreCaches()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._connections: list[LibraryConnection] = []
        self._closed = False

    def connection(self) -> apsw.Connection:
        """This thread's connection (opened on first use)."""
        conn: LibraryConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise LibraryError("The library is closed.")
            conn = open_connection(self.path, readonly=self.readonly, create=False, caches=self.caches)
            with self._lock:
                if self._closed:
                    conn.close()
                    raise LibraryError("The library is closed.")
                self._connections.append(conn)
            self._local.conn = conn
        return conn

    def prepare(self, recovered_sources: Sequence[tuple[str, str]] = ()) -> None:
        """Bring the file to this version's schema (a read-only one that is behind is refused)
        and add ``recovered_sources`` ((path, kind) pairs of a damaged predecessor)."""
        try:
            conn = self.connection()
            if self.readonly:
                if pending_migrations(conn):
                    raise LibraryError(f"The library {self.path} is read-only and was made by an earlier "
                                       "Memex; open it once where it can be written to bring it up to date.")
            else:
                migrate(conn)
            if recovered_sources:
                with self.write() as conn:
                    for source_path, kind in recovered_sources:
                        docs.add_source(conn, source_path, kind)
        except apsw.Error as exc:
            raise LibraryError(f"Cannot prepare the library {self.path}: {exc}") from exc

    @contextlib.contextmanager
    def read(self) -> Iterator[apsw.Connection]:
        """One consistent snapshot across several statements, on this thread's connection."""
        with read_snapshot(self.connection()) as conn:
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[apsw.Connection]:
        """A write transaction on this thread's connection (see ``write_transaction``). The
        caches need no word afterwards: what they hold is tied to versions the transaction's
        own triggers advance (see ``caches``)."""
        with write_transaction(self.connection()) as conn:
            yield conn

    def counts(self) -> LibraryCounts:
        with self.read() as conn:
            return library_counts(conn)

    def schema_version(self) -> int:
        return schema_version(self.connection())

    def sources_to_remember(self) -> list[tuple[str, str]] | None:
        """(path, kind) of every source, read on an already open connection; None when none is
        open or it is busy in another thread (for ``source_record``, best effort)."""
        with self._lock:
            first = self._connections[0] if self._connections else None
        if first is None:
            return None
        try:
            return docs.source_paths(first)
        except apsw.Error:
            return None

    def files(self) -> list[Path]:
        """The library file and its WAL sidecars."""
        return [self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")]

    def size_bytes(self) -> int:
        total = 0
        for path in self.files():
            with contextlib.suppress(OSError):
                total += path.stat().st_size
        return total

    def release_memory(self) -> None:
        """Give back SQLite's page caches (up to 32 MB per connection; the pages stay in the
        system's file cache) and the library's words kept for spelling (read again when a
        query needs them). A connection busy in another thread is left alone."""
        forget_vocabulary(self.caches)
        with self._lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(apsw.ThreadingViolationError, apsw.ConnectionClosedError):
                conn.release_memory()

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
            self._closed = True
        self.caches.clear()
