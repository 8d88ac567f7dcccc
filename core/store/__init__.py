"""The library file: one SQLite database (apsw) with FTS5 and sqlite-vec."""

from .connection import open_connection, read_snapshot, write_transaction
from .migrations import migrate, schema_version

__all__ = ["migrate", "open_connection", "read_snapshot", "schema_version", "write_transaction"]
