"""Memex core: extraction, indexing and search over one SQLite file. No Qt here."""
