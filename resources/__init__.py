"""Data files: tokenizer, model catalogue, icons."""
