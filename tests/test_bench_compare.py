"""The benchmark's row-for-row comparison of the published marts with the contract floor's:
it must report a changed row, a missing row and a repeated row, and nothing for equal tables."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bench import PUBLISHED_MARTS, compare_published  # noqa: E402

ROWS = [(2025, "01", "k1", 12.5), (2025, "01", "k2", None), (2025, "02", "k3", 9.75)]


def _write(path: Path, schema: str, rows: list[tuple]) -> None:
    con = duckdb.connect(str(path))
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for table in PUBLISHED_MARTS:
        con.execute(
            f"CREATE TABLE {schema}.{table} (session INTEGER, academy_code VARCHAR, "
            "candidate_key VARCHAR, grade DOUBLE)"
        )
        con.executemany(f"INSERT INTO {schema}.{table} VALUES (?, ?, ?, ?)", rows)
    con.close()


def _compare(tmp_path: Path, floor_rows: list[tuple]) -> list[str]:
    (tmp_path / "warehouse").mkdir()
    _write(tmp_path / "warehouse" / "results.duckdb", "marts", ROWS)
    _write(tmp_path / "floor.duckdb", "main", floor_rows)
    return compare_published(tmp_path, tmp_path / "floor.duckdb")


def test_equal_marts_agree(tmp_path: Path) -> None:
    assert _compare(tmp_path, list(reversed(ROWS))) == []


@pytest.mark.parametrize(
    ("floor_rows", "only_in_pipeline", "only_in_floor"),
    [
        ([ROWS[0], (2025, "01", "k2", 10.0), ROWS[2]], 1, 1),  # a changed value (NULL → 10)
        (ROWS[:2], 1, 0),  # a row missing from the floor
        ([*ROWS, ROWS[0]], 0, 1),  # a row twice
    ],
)
def test_a_difference_is_reported_for_every_mart(
    tmp_path: Path, floor_rows: list[tuple], only_in_pipeline: int, only_in_floor: int
) -> None:
    problems = _compare(tmp_path, floor_rows)
    for table in PUBLISHED_MARTS:
        mine = [p for p in problems if f" {table}: " in p]
        expected = []
        if only_in_pipeline:
            expected.append(f"pipeline vs contract floor {table}: {only_in_pipeline} row(s) of "
                            f"p.marts.{table} not in {table}")  # fmt: skip
        if only_in_floor:
            expected.append(f"pipeline vs contract floor {table}: {only_in_floor} row(s) of "
                            f"{table} not in p.marts.{table}")  # fmt: skip
        assert mine == expected


def test_a_column_the_pipeline_added_is_not_compared(tmp_path: Path) -> None:
    (tmp_path / "warehouse").mkdir()
    _write(tmp_path / "warehouse" / "results.duckdb", "marts", ROWS)
    _write(tmp_path / "floor.duckdb", "main", ROWS)
    con = duckdb.connect(str(tmp_path / "warehouse" / "results.duckdb"))
    for table in PUBLISHED_MARTS:  # the contract lets marts gain columns
        con.execute(f"ALTER TABLE marts.{table} ADD COLUMN extra INTEGER DEFAULT 1")
    con.close()
    assert compare_published(tmp_path, tmp_path / "floor.duckdb") == []


def test_a_mart_missing_from_the_floor_is_reported(tmp_path: Path) -> None:
    (tmp_path / "warehouse").mkdir()
    _write(tmp_path / "warehouse" / "results.duckdb", "marts", ROWS)
    _write(tmp_path / "floor.duckdb", "main", ROWS)
    con = duckdb.connect(str(tmp_path / "floor.duckdb"))
    con.execute("DROP TABLE fct_unit_result")
    con.close()
    assert compare_published(tmp_path, tmp_path / "floor.duckdb") == [
        "pipeline vs contract floor fct_unit_result: no column in common"
    ]
