"""Models: the catalogue, downloads, checks, ONNX sessions, embedders, rerankers, switching."""
