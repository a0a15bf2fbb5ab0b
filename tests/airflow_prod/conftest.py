"""Production-like Airflow (run with `.venv/airflow/bin/pytest tests/airflow_prod`).

PostgreSQL metadata, LocalExecutor, and `airflow api-server`, `scheduler` and `dag-processor` as
separate processes, driven only through the REST API, with the pipeline's data in a temporary
folder. Everything started here is stopped in the fixtures' `finally` blocks.
"""

from __future__ import annotations

import shutil
import signal
import sys
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "airflow")]  # prod_support, airflow_expected

from prod_support import (  # noqa: E402
    AIRFLOW,
    EXAMS,
    SAMPLE_DIR,
    AirflowStack,
    Api,
    PipelineDirs,
    Postgres,
    postgres_bindir,
)


@contextmanager
def sigterm_as_interrupt() -> Generator[None, None, None]:
    """A SIGTERM to pytest (a CI timeout, `kill`) unwinds like Ctrl-C, so that the fixtures'
    `finally` blocks still stop the servers (by default SIGTERM ends Python on the spot)."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    for exe in (AIRFLOW, EXAMS):
        if not exe.exists():
            pytest.skip(f"{exe} missing: run `make env-airflow env-transform` first")
    with sigterm_as_interrupt():
        pg = Postgres(postgres_bindir())
        try:
            pg.start()
            yield pg
        finally:
            pg.stop()


@pytest.fixture(scope="session")
def pipeline_dirs(tmp_path_factory: pytest.TempPathFactory) -> PipelineDirs:
    """A raw folder holding a copy of the committed sample, and empty output folders."""
    dirs = PipelineDirs(tmp_path_factory.mktemp("prod_pipeline"))
    dirs.raw.mkdir()
    for path in SAMPLE_DIR.iterdir():
        if path.is_file():
            shutil.copy2(path, dirs.raw / path.name)
    return dirs


@pytest.fixture(scope="session")
def airflow_stack(
    postgres: Postgres, pipeline_dirs: PipelineDirs, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AirflowStack]:
    stack = AirflowStack(tmp_path_factory.mktemp("prod_airflow_home"), postgres.url, pipeline_dirs)
    try:
        stack.start()
        stack.wait_healthy()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def api(airflow_stack: AirflowStack) -> Api:
    client = Api(airflow_stack.base_url, airflow_stack.user, airflow_stack.password())
    client.wait_for_dag(airflow_stack)
    return client
