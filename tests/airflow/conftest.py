"""Airflow tests (run with the Airflow environment: `.venv/airflow/bin/pytest tests/airflow`).

Airflow reads its configuration when first imported, so every test imports it lazily, after the
session fixture below has pointed it at a throw-away home with SQLite metadata.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGS = REPO_ROOT / "dags"
TRANSFORM_EXAMS = REPO_ROOT / ".venv" / "transform" / "bin" / "exams"


@pytest.fixture(scope="session", autouse=True)
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("airflow_home")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__PARALLELISM": "4",
        }.items():
            mp.setenv(key, value)
        yield home


@pytest.fixture(scope="session")
def airflow_db(airflow_home: Path) -> Path:
    """A migrated metadata database (needed by dag.test(), not by DagBag)."""
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, env=os.environ)
    return airflow_home / "airflow.db"


@pytest.fixture(scope="session")
def transform_cli() -> Path:
    if not TRANSFORM_EXAMS.exists():
        pytest.skip(f"{TRANSFORM_EXAMS} missing: run `make env-transform` first")
    return TRANSFORM_EXAMS
