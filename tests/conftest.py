"""Shared fixtures: a real pipeline run (ingest → dbt build → checks → publish → extracts)
on the committed sample, published into a temporary folder once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_support import SAMPLE_DIR, pipeline_env, run_exams  # noqa: F401


@pytest.fixture(scope="session")
def published_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of results.duckdb published by a real run of every stage on the committed sample."""
    base = tmp_path_factory.mktemp("published")
    warehouse = base / "warehouse" / "results.duckdb"
    run_exams("run", env=pipeline_env(SAMPLE_DIR, warehouse, base / "extracts"))
    assert warehouse.exists()
    return warehouse
