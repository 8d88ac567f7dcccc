"""Memex core: extraction, indexing and search over one SQLite file. No Qt here."""

from .models.onnx_privacy import keep_onnxruntime_offline

# First, before anything loads ONNX Runtime (see onnx_privacy): no telemetry, in any process.
keep_onnxruntime_offline()
