"""Ministry reporting extracts (warehouse-contract.md): the publication is the warehouse and its
extracts together.

`run(s)` is called by every nightly run, whether or not anything was rebuilt. It opens the
published warehouse once, read-only, and reads everything from that one connection (so the
extracts come from exactly one publication):

- the publication's identity: the `run_id` of the latest row of `audit.dq_results` (the check
  stage writes its rows into the file it approves);
- the published sessions (`marts.pass_rates`), and for each one its tables (`tables`).

In `EXAMS_EXTRACTS_DIR` it then removes every entry that is not a published session's folder
(sessions no longer published, the temp folders of an interrupted run, anything else), verifies
each published session's folder against its manifest (`files.problem`: same publication, schema
version and secrecy threshold, every listed file present with its sha256, nothing else), and
rewrites from the publication each folder that differs (`folders.put_in_place`: atomic). A folder
that matches is left untouched.

Modules: `secrecy` (statistical secrecy, complementary suppression), `tables` (aggregates in
DuckDB), `files` (CSV, Parquet, XLSX, manifest, verification), `folders` (atomic replacement,
removal without following symlinks).
"""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb

from exams.errors import ConfigError, InvariantBroken, StageFailed
from exams.extracts import files, folders
from exams.extracts.tables import tables_for
from exams.settings import REPO_ROOT, Settings

log = logging.getLogger(__name__)

PUBLICATION_SQL = "SELECT run_id FROM audit.dq_results ORDER BY run_at DESC, run_id DESC LIMIT 1"
SESSIONS_SQL = "SELECT DISTINCT session FROM marts.pass_rates WHERE session IS NOT NULL ORDER BY 1"


def _check_extracts_dir(s: Settings) -> None:
    """Everything in the extracts folder that is not an extract is removed: it must not hold
    the warehouse, the raw exports, the private state or the repository."""
    out = s.extracts_dir.resolve()
    for what, path in (("the published warehouse", s.warehouse), ("EXAMS_RAW_DIR", s.raw_dir),
                       ("the private state", s.state_dir), ("the repository", REPO_ROOT)):  # fmt: skip
        path = path.resolve()
        if path == out or out in path.parents:
            raise ConfigError(
                f"EXAMS_EXTRACTS_DIR={s.extracts_dir} holds {what} ({path}): the extracts "
                "folder must be a folder of its own (whatever else it holds is removed)"
            )


def publication_id(con: duckdb.DuckDBPyConnection) -> str:
    """The publication's identity: the run id of the check that approved the file."""
    try:
        row = con.execute(PUBLICATION_SQL).fetchone()
    except duckdb.CatalogException as e:
        raise InvariantBroken(f"the published warehouse has no audit.dq_results: {e}") from e
    if row is None or not row[0]:
        raise InvariantBroken("the published warehouse holds no data-quality result: unchecked")
    return row[0]


def _write_session(con: duckdb.DuckDBPyConnection, out: Path, expected: files.Expected) -> None:
    tmp = folders.temp_folder(out, expected.session)
    tmp.mkdir()
    try:
        tables = tables_for(con, expected.session, expected.threshold)
        files.write_folder(tmp, tables, expected)
    except BaseException:
        folders.remove(tmp)
        raise
    folders.put_in_place(tmp, out / str(expected.session))


def run(s: Settings) -> None:
    """Make `s.extracts_dir` exactly the extracts of the published warehouse (see above)."""
    _check_extracts_dir(s)
    if not s.warehouse.is_file():
        raise StageFailed(f"no published warehouse at {s.warehouse}: no extracts to write")
    out = s.extracts_dir
    con = duckdb.connect(str(s.warehouse), read_only=True)
    try:
        run_id = publication_id(con)
        sessions = [row[0] for row in con.execute(SESSIONS_SQL).fetchall()]
        out.mkdir(parents=True, exist_ok=True)
        removed = folders.clear(out, {str(session) for session in sessions})
        for name in removed:
            log.info("extracts: removed %s (not a published session's folder)", out / name)
        rewritten = 0
        for session in sessions:
            expected = files.Expected(session, run_id, s.secrecy_threshold)
            problem = files.problem(out / str(session), expected)
            if problem is None:
                log.info("extracts %s: verified (publication %s)", session, run_id)
                continue
            log.info("extracts %s: rewriting from publication %s: %s", session, run_id, problem)
            _write_session(con, out, expected)
            rewritten += 1
    finally:
        con.close()
    log.info(
        "extracts: publication %s in %s: %d session(s) verified, %d rewritten, %d entr%s removed",
        run_id, out, len(sessions) - rewritten, rewritten, len(removed),
        "y" if len(removed) == 1 else "ies",
    )  # fmt: skip


def write_all(s: Settings) -> None:
    """The former entry point, kept while `pipeline.extracts` calls it: use `run`."""
    run(s)
