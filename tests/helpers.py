"""Test helpers: small exports written by the project's generator, edited line by line, and
ingest runs into a temporary state."""

from __future__ import annotations

import csv
import io
import unicodedata
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


def _canonical(name: str) -> str:
    name = unicodedata.normalize("NFKD", name.strip())
    return "".join(c for c in name if not unicodedata.combining(c)).lower()


def read_export(path: Path) -> dict[int, dict[str, str]]:
    """An export read independently of the ingest (Python's csv module), for the tests'
    expectations: physical line -> fields (trimmed) by canonical column name (no accents, lower
    case); blank lines are not rows."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")
    header = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";" if ";" in header else ",")
    names = [_canonical(h) for h in next(reader)]
    rows, start = {}, reader.line_num + 1
    for record in reader:
        if any(v.strip() for v in record):
            rows[start] = {n: v.strip() for n, v in zip(names, record, strict=False)}
        start = reader.line_num + 1
    return rows


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


def sha256_of(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


CONTRACT = {
    "marts": {"fct_candidate_session", "fct_unit_result", "pass_rates", "block_capitalisation",
              "establishment_results", "national_pass_rates", "outcome_counts"},
    "audit": {"file_manifest", "quarantine", "dq_results"},
}  # fmt: skip


def publication_run(warehouse: Path) -> str:
    """The served file, opened as a reader would: its contract tables, and its identity (the
    run of its latest check)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = set(con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall())
        for schema, names in CONTRACT.items():
            assert {(schema, n) for n in names} <= tables
        assert con.execute("SELECT count(*) FROM marts.pass_rates").fetchone()[0] > 0
        assert_accounting(con, "audit.file_manifest", "audit.quarantine")
        return con.execute(
            "SELECT run_id FROM audit.dq_results ORDER BY run_at DESC, run_id DESC LIMIT 1"
        ).fetchone()[0]
    finally:
        con.close()


def assert_whole_publication(p: PublicationCopy) -> str:
    """Nothing of a run is left behind (candidate file, its write-ahead log, `.publishing`,
    transcoded copies, temp extract folders, the lock), and the extracts are the publication's:
    their manifests name the run of its latest check, every file has its listed sha256."""
    import json

    run_id = publication_run(p.warehouse)
    leftovers = [f for f in p.warehouse.parent.iterdir()
                 if f.name.startswith(p.warehouse.name + ".")]  # fmt: skip
    assert leftovers == [], leftovers
    work = p.state / f"{p.warehouse.stem}.work" / "ingest"
    assert not work.exists() or list(work.iterdir()) == []
    assert p.record() == {}
    con = duckdb.connect(str(p.warehouse), read_only=True)
    try:
        sessions = {str(s) for (s,) in con.execute(
            "SELECT DISTINCT session FROM marts.pass_rates").fetchall()}  # fmt: skip
    finally:
        con.close()
    assert {e.name for e in p.extracts.iterdir()} == sessions  # no temp folder left either
    for session in sessions:
        folder = p.extracts / session
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["run_id"] == run_id
        listed = {f["file"]: f["sha256"] for f in manifest["files"]}
        assert {f.name for f in folder.iterdir()} == set(listed) | {"manifest.json"}
        assert all(sha256_of(folder / name) == sha for name, sha in listed.items())
    return run_id


def published_texts(warehouse: Path, extracts: Path):
    """(where, text) of everything a run publishes: every cell of every table and view of the
    served DuckDB file, and every file beside it (Data Docs, dbt docs) and in the extracts —
    Parquet read as rows, XLSX as the XML of its sheets, the rest as bytes."""
    import io
    import json
    import zipfile

    import pyarrow.parquet as pq

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        relations = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() UNION ALL "
            "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal"
        ).fetchall()
        assert len(relations) > 10
        for schema, name in relations:
            rows = con.execute(f'SELECT * FROM "{schema}"."{name}"').fetchall()
            yield f"{schema}.{name}", repr(rows)
    finally:
        con.close()
    files = [p for p in warehouse.parent.rglob("*") if ".private" not in p.parts]
    files += list(extracts.rglob("*"))
    assert any(p.suffix == ".xlsx" for p in files) and any(p.suffix == ".parquet" for p in files)
    for path in files:
        if not path.is_file():
            continue
        data = path.read_bytes()
        yield str(path), data.decode("latin-1")
        if path.suffix == ".parquet":
            yield str(path), repr(pq.read_table(io.BytesIO(data)).to_pylist())
        elif path.suffix == ".xlsx":
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                for member in z.namelist():
                    yield f"{path}:{member}", z.read(member).decode("utf-8")
        elif path.suffix == ".json":
            json.loads(data)  # the manifest is read as text above


class Workspace:
    """One folder where copies of a publication are made and run on, one test at a time: the
    same absolute paths every time, so that dbt's partial parse and the dbt docs cache left by
    one test serve the next (under another path, every rebuild would parse the project and
    generate the docs again: seconds each). The caches a test leaves are kept in the template
    when the next copy is made; everything else is the publication as copied."""

    CACHES = ("dbt_target", "dbt_docs_cache")

    def __init__(self, published: Path, base: Path) -> None:
        import shutil

        self.published = published
        self.template = base / "template"
        self.folder = base / "workspace"
        shutil.copytree(published.parent.parent, self.template, symlinks=True)

    def _work(self, root: Path) -> Path:
        return root / self.published.parent.name / ".private" / f"{self.published.stem}.work"

    def copy(self, raw: Path | None = None) -> PublicationCopy:
        import shutil

        if self.folder.exists():
            work = self._work(self.folder)
            if (work / "dbt_docs_cache" / "key").exists():  # a complete build ran here
                for cache in self.CACHES:
                    shutil.rmtree(self._work(self.template) / cache, ignore_errors=True)
                    shutil.copytree(work / cache, self._work(self.template) / cache)
            shutil.rmtree(self.folder)
        template = self.template / self.published.parent.name / self.published.name
        return PublicationCopy(template, self.folder, raw)


_WORKSPACE: list[Workspace] = []


def workspace(published: Path, tmp_path_factory) -> Workspace:
    """The test session's workspace (made once, whichever test module asks first)."""
    if not _WORKSPACE:
        _WORKSPACE.append(Workspace(published, tmp_path_factory.mktemp("trust_workspace")))
    return _WORKSPACE[0]
