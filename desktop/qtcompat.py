"""Work-arounds for the Qt binding, applied once before the window runs.

PySide6 6.12.0 on CPython < 3.12 returns ``None`` from every void method without taking a
reference (it relies on 3.12's immortal ``None``). Each call then drops ``None``'s reference
count by one, and after some thousands of calls the interpreter aborts with "deallocating
None". When a probe shows that behaviour, ``None`` (and the two booleans, to be safe) get a
reference count so large it cannot reach zero — what CPython 3.12 does for them anyway.
"""

from __future__ import annotations

import ctypes
import sys

_RESERVE = 1 << 40
_applied = False


def void_calls_drop_none() -> bool:
    """Whether calling a void PySide method loses a reference to ``None``."""
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(50):
        probe.setObjectName("probe")
    return sys.getrefcount(None) <= before - 40


def apply() -> bool:
    """Apply the needed work-arounds (once); True when one was needed."""
    global _applied
    if _applied:
        return True
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if not void_calls_drop_none():
        return False
    for obj in (None, True, False):
        ctypes.c_ssize_t.from_address(id(obj)).value += _RESERVE
    _applied = True
    return True
