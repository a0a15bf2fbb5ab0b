"""Test helpers: small exports written by the project's generator, edited line by line, and
ingest runs into a temporary state."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np

from exams import reference, settings
from exams.generator import COLUMNS, DIALECTS, Dialect, _file_table, export_name, write_export
from exams.ingest import run as ingest_run
from exams.ingest import state

PLAIN = DIALECTS[0]  # utf-8, ';', decimal comma, \n
KEY = b"test-key"


def write_clean(folder: Path, session: int = 2025, academy: str = "10", n: int = 4,
                dialect: Dialect = PLAIN, seed: int = 7, name: str | None = None) -> Path:  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
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


def ingest_settings(raw: Path, tmp: Path, **overrides: object) -> settings.Settings:
    """Settings of an ingest into `tmp/state` (no environment read)."""
    return settings.load({}, raw_dir=raw, warehouse=tmp / "wh" / "results.duckdb",
                         state_dir_override=tmp / "state", mode="test", **overrides)  # fmt: skip


def run_ingest(raw: Path, tmp: Path, key: bytes = KEY, **overrides: object):
    return ingest_run.run(ingest_settings(raw, tmp, **overrides), key)


def ingest(raw: Path, tmp: Path, key: bytes = KEY, **overrides: object) -> duckdb.DuckDBPyConnection:
    """Ingest `raw` and open the build database read-only."""
    s = ingest_settings(raw, tmp, **overrides)
    ingest_run.run(s, key)
    return duckdb.connect(str(s.build_db), read_only=True)


def parse(path: Path, tmp: Path) -> duckdb.DuckDBPyConnection:
    """What ingest's reader makes of one file, before validation: the temp view `batch_rows`
    (names included: they are read, checked for layout, and never stored)."""
    from exams.ingest.files import scan
    from exams.ingest.read import read_batch
    from exams.ingest.run import Ingest

    s = ingest_settings(path.parent, tmp)
    con = duckdb.connect()
    state.init_schema(con)
    reference.load_into(con)
    pending = Ingest(con, s, KEY).prepare(scan(path, s.max_line_bytes))
    assert pending is not None
    read_batch(con, [pending.sf], COLUMNS, tmp, s.max_line_bytes)
    return con


# ---- additions for the trust tests (tests/test_trust_*.py) -----------------------------------


def assert_accounting(con: duckdb.DuckDBPyConnection, manifest: str = "raw.file_manifest",
                      quarantine: str = "raw.quarantine") -> None:  # fmt: skip
    """Per file: rows_total = rows_loaded + rows_quarantined, and one quarantine row per
    quarantined row (the build database's tables by default; `audit.*` in a published file)."""
    broken = con.execute(
        f"""WITH q AS (SELECT file_name, count(*) AS n FROM {quarantine} GROUP BY ALL)
        SELECT m.file_name, m.rows_total, m.rows_loaded, m.rows_quarantined, coalesce(q.n, 0)
        FROM {manifest} AS m LEFT JOIN q USING (file_name)
        WHERE m.rows_total IS NULL OR m.rows_total <> m.rows_loaded + m.rows_quarantined
           OR m.rows_quarantined <> coalesce(q.n, 0)"""
    ).fetchall()
    assert broken == [], f"row accounting broken: {broken}"
    orphans = con.execute(
        f"SELECT count(*) FROM {quarantine} WHERE file_name NOT IN "
        f"(SELECT file_name FROM {manifest})"
    ).fetchone()[0]
    assert orphans == 0


def start_exams(*args: str, env: dict[str, str]):
    """A real `exams` process, not waited for (to be killed, stopped or raced)."""
    import subprocess

    from pipeline_support import EXAMS, REPO_ROOT

    return subprocess.Popen([str(EXAMS), *args], env=env, cwd=REPO_ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def wait_for(happened, proc, what: str, busy: bool = False) -> None:
    """Poll until `happened()` is true (the synchronisation is the marker, not a delay); fails
    if `proc` ends first. Every millisecond, or without pause (`busy`) for a moment that lasts
    only a few milliseconds."""
    import os
    import time

    while not happened():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"{what} never happened (exit {proc.returncode}):\n{out}\n{err}")
        os.sched_yield() if busy else time.sleep(0.001)


def snapshot(*folders: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under `folders` (hidden ones and the private state included): size,
    modification time and sha256 — to show that a process touched none of them."""
    import hashlib

    out = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                st = path.stat()
                out[str(path)] = (st.st_size, st.st_mtime_ns,
                                  hashlib.sha256(path.read_bytes()).hexdigest())  # fmt: skip
    return out


class PublicationCopy:
    """A copy of a publication — the warehouse folder with its private state, and the extracts
    — run on by real `exams` processes (the raw folder: the committed sample, or `raw`)."""

    def __init__(self, published: Path, tmp: Path, raw: Path | None = None) -> None:
        import shutil

        from pipeline_support import SAMPLE_DIR, pipeline_env

        shutil.copytree(published.parent.parent, tmp, dirs_exist_ok=True, symlinks=True)
        self.warehouse = tmp / published.parent.name / published.name
        self.extracts = tmp / "extracts"
        self.state = self.warehouse.parent / ".private"
        self.lock = self.state / f"{self.warehouse.stem}.run.lock"
        self.new = self.warehouse.with_name(self.warehouse.name + ".new")
        self.raw = raw or SAMPLE_DIR
        self.env = pipeline_env(self.raw, self.warehouse, self.extracts)

    def record(self) -> dict:
        """The run lock's record ({} when free; also while a process rewrites it)."""
        import json

        try:
            return json.loads(self.lock.read_text() or "{}")
        except (OSError, ValueError):
            return {}

    def files(self) -> dict:
        return snapshot(self.warehouse.parent, self.extracts)

    def exams(self, *args: str, check: bool = True, **env: str):
        from pipeline_support import run_exams

        return run_exams(*args, env={**self.env, **env}, check=check)
