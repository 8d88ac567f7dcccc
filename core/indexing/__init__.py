"""Indexing: scanning folders, chunking, the indexing pipeline and the folder watcher."""
