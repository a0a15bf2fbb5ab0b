"""Ingestion of session result exports (export-format.md)."""
