"""Test helpers: small exports written by the project's generator, edited line by line."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np

from exams.generator import COLUMNS, DIALECTS, Dialect, _file_table, export_name, write_export
from exams.ingest import load

PLAIN = DIALECTS[0]  # utf-8, ';', decimal comma, \n
KEY = b"test-key"


def write_clean(folder: Path, session: int = 2025, academy: str = "10", n: int = 4,
                dialect: Dialect = PLAIN, seed: int = 7, name: str | None = None) -> Path:  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    from datetime import datetime

    table = _file_table(np.random.default_rng(seed), session, academy, n, 0.0)
    path = folder / (name or export_name(session, academy, datetime(session, 7, 4, 18, 30)))
    write_export(table, path, dialect)
    return path


def read_lines(path: Path) -> list[list[str]]:
    return [line.split(";") for line in path.read_text(encoding="utf-8").split("\n") if line]


def write_lines(path: Path, lines: list[list[str]]) -> None:
    path.write_text("\n".join(";".join(f) for f in lines) + "\n", encoding="utf-8")


def set_field(lines: list[list[str]], line_number: int, **values: str) -> None:
    """Set fields of a physical line (1-based, header = 1) by canonical column name."""
    for col, value in values.items():
        lines[line_number - 1][COLUMNS.index(col)] = value


def ingest(raw: Path, tmp: Path) -> duckdb.DuckDBPyConnection:
    db = tmp / "state" / "build.duckdb"
    load.run(raw, db, tmp / "state" / "work", KEY)
    return duckdb.connect(str(db), read_only=True)


def parse(path: Path, tmp: Path) -> duckdb.DuckDBPyConnection:
    """What ingest's reader makes of one file, before validation: the temp view `batch_rows`
    (names included: they are read, checked for layout, and never stored)."""
    from exams.ingest.files import scan
    from exams.ingest.read import read_batch

    con = duckdb.connect()
    load.init_schema(con)
    load.load_reference(con)
    pending = load.prepare(con, scan(path), path.stat(), load.AcademyRules(con), tmp)
    assert pending is not None
    read_batch(con, [pending.sf], tmp)
    return con
