"""The project's generic uniqueness test, as dbt compiled it for a real run, finds exactly the
duplicates a plain GROUP BY finds, whatever the rows (hypothesis): its cheaper variants
(`dense_last`, `few_per_group`) only choose which rows get the exact count."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

COMPILED = Path(".private", "results.work", "dbt_target", "compiled", "exams", "models")


def _compiled_test(warehouse: Path, folder: str, needle: str) -> str:
    """The SQL dbt compiled for the uniqueness test of a model (one per model)."""
    tests = [
        p.read_text()
        for p in (warehouse.parent / COMPILED / folder).rglob("unique_combination_*.sql")
        if needle in p.read_text()
    ]
    assert len(tests) == 1, f"expected one compiled uniqueness test on {needle}, got {len(tests)}"
    return tests[0]


@pytest.fixture(scope="module")
def dense_sql(published_warehouse: Path) -> str:
    sql = _compiled_test(published_warehouse, "staging", "stg_exports__result_rows")
    assert "// 64" in sql  # the dense_last variant
    return re.sub(r'"[^"]+"\."staging"\."stg_exports__result_rows"', "t", sql)


@pytest.fixture(scope="module")
def few_sql(published_warehouse: Path) -> str:
    sql = _compiled_test(published_warehouse, "marts", "fct_unit_result")
    assert "bit_count" in sql and "// 64" not in sql  # the few_per_group variant
    return re.sub(r'"[^"]+"\."marts"\."fct_unit_result"', "t", sql)


def _table(columns: str, rows: list[tuple]) -> duckdb.DuckDBPyConnection:
    """A fresh database with the rows in table t (what the compiled test reads)."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t ({columns})")
    if rows:
        con.executemany(f"INSERT INTO t VALUES ({', '.join('?' * len(rows[0]))})", rows)
    return con


def _duplicates(con: duckdb.DuckDBPyConnection, sql: str, keys: str) -> list[tuple]:
    found = sorted(con.execute(f"SELECT {keys}, n FROM ({sql})").fetchall(), key=repr)
    plain = con.execute(
        f"SELECT {keys}, count(*) FROM t GROUP BY {keys} HAVING count(*) > 1"
    ).fetchall()
    assert found == sorted(plain, key=repr)
    return found


lines = st.one_of(st.none(), st.integers(min_value=-200, max_value=400))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.tuples(st.sampled_from(["a.csv", "b.csv", None]), lines), max_size=80))
def test_dense_last_finds_exactly_the_duplicate_lines(dense_sql: str, rows: list) -> None:
    con = _table("file_name VARCHAR, line_number BIGINT", rows)
    _duplicates(con, dense_sql, "file_name, line_number")


def test_dense_last_on_block_edges(dense_sql: str) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT 'a.csv' AS file_name, range AS line_number "
                "FROM range(2, 10000)")  # fmt: skip
    assert _duplicates(con, dense_sql, "file_name, line_number") == []
    con.execute("INSERT INTO t VALUES ('a.csv', 63), ('a.csv', 64), ('a.csv', 64), ('a.csv', 9999)")
    assert _duplicates(con, dense_sql, "file_name, line_number") == [
        ("a.csv", 63, 2), ("a.csv", 64, 3), ("a.csv", 9999, 2)
    ]  # fmt: skip


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from([2024, 2025]),
            st.sampled_from(["k1", "k2", "k3"]),
            st.sampled_from(["U1", "U2", "U5", "UF1", None]),
        ),
        max_size=60,
    )  # fmt: skip
)
def test_few_per_group_finds_exactly_the_duplicate_units(few_sql: str, rows: list) -> None:
    con = _table("session INTEGER, candidate_key VARCHAR, unit_code VARCHAR", rows)
    _duplicates(con, few_sql, "session, candidate_key, unit_code")
