"""export: a sentencepiece model written as a Hugging Face fast tokenizer that encodes like it."""

from tokcheck.export.run import ExportResult, export

__all__ = ["ExportResult", "export"]
