"""Benchmarks behind ``memex bench``: each prints its figure next to a baseline measured in the
same run, and its target."""
