"""Benchmarks behind ``memex bench``: each prints its figure next to a baseline measured in the
same run, and its target. A distribution of its own (memex-bench, tests/bench/), never shipped
with the app; the robustness tests import their hostile-input generators from here too."""
