"""Small typed helpers over apsw cursors, so the rest of ``store`` reads rows without casts."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, cast

import apsw

IN_BATCH = 500  # ids per ``IN (…)``: well under SQLite's 32,766 host parameters

Row = tuple[Any, ...]


def one_row(conn: apsw.Connection, sql: str, args: apsw.Bindings = ()) -> Row | None:
    """The first row of ``sql``, or None when it returns none."""
    return cast("Row | None", conn.execute(sql, args).fetchone())


def one_int(conn: apsw.Connection, sql: str, args: apsw.Bindings = ()) -> int:
    """The first column of the first row as an int (0 when there is no row or it is NULL)."""
    row = one_row(conn, sql, args)
    return int(row[0]) if row is not None and row[0] is not None else 0


def rows(conn: apsw.Connection, sql: str, args: apsw.Bindings = ()) -> Iterator[Row]:
    return cast("Iterator[Row]", iter(conn.execute(sql, args)))


def in_batches(conn: apsw.Connection, sql: str, ids: Iterable[int], after: Sequence[apsw.SQLiteValue] = (),
               size: int = IN_BATCH) -> Iterator[Row]:
    """Rows of ``sql`` for every id of ``ids``, ``size`` ids per statement. ``sql`` holds
    ``{ids}`` where the ``?, ?, …`` list goes; ``after`` binds the parameters that follow it."""
    unique = [int(i) for i in dict.fromkeys(ids)]
    for start in range(0, len(unique), size):
        part = unique[start:start + size]
        args: list[apsw.SQLiteValue] = [*part, *after]
        yield from rows(conn, sql.format(ids=",".join("?" * len(part))), args)
