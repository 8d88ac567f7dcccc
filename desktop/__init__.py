"""Memex desktop window (PySide6) over memex.core.Library."""
