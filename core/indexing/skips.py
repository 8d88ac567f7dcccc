"""What one run's scan passed over without reading, gathered per scanned path and written to
the library when the plan is made (``store.skipped``): each scanned folder or file replaces
what was kept for it, so the list always says what the last look found."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..store import Connection, skipped, write_transaction
from ..types import FileError


@dataclass
class _Scanned:
    path: str
    whole_folder: bool
    source_id: int | None
    found: list[FileError] = field(default_factory=list)


class SkipLog:
    """The skipped entries of one run, by the path whose scan found them."""

    def __init__(self) -> None:
        self._scans: list[_Scanned] = []
        self._counted = (0, 0)  # (entries collected, distinct paths among them) when last counted

    def scan(self, path: str, whole_folder: bool, source_id: int | None) -> Callable[[FileError], None]:
        """A collector for the scan of ``path`` (a folder with everything inside it when
        ``whole_folder``, else that one path); what it collects replaces what was kept."""
        scanned = _Scanned(path, whole_folder, source_id)
        self._scans.append(scanned)
        return scanned.found.append

    @property
    def count(self) -> int:
        """Entries passed over, each once (nested sources scan some paths twice). Counted again
        only when more were collected: every progress report asks."""
        collected = sum(len(s.found) for s in self._scans)
        if collected != self._counted[0]:
            self._counted = (collected, len({f.path for s in self._scans for f in s.found}))
        return self._counted[1]

    def write(self, conn: Connection) -> None:
        """Keep what was found in the library, in one transaction. Scans of longer (more
        specific) paths come later, so a file under two sources is kept under the closer one."""
        if not self._scans:
            return
        with write_transaction(conn):
            for s in self._scans:
                skipped.replace_found(conn, s.path, s.whole_folder, s.source_id, s.found)
            skipped.forget_sources_themselves(conn)
