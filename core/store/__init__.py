"""The library file: one SQLite database (apsw) with FTS5 and sqlite-vec. Every SQL statement
of Memex lives in this package; :class:`Store` holds an open library's connections and caches."""

from apsw import Connection, SQLError

from .connection import open_connection, read_snapshot, write_transaction
from .migrations import migrate, schema_version
from .store import Store

__all__ = ["Connection", "SQLError", "Store", "migrate", "open_connection", "read_snapshot", "schema_version",
           "write_transaction"]
