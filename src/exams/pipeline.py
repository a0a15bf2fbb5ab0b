"""The nightly run's stages: ingest → transform → check → publish → extracts.

Write, audit, publish: `transform` runs dbt on the private build database, which writes the
published relations (marts, audit, reference only) straight into the candidate publication
`<warehouse>.new`; `check` validates that file; `publish` moves it onto the served path with
`os.replace` (atomic: dashboards never see a half-written file, and a failed run leaves the
served file untouched).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import duckdb

from exams import settings as settings_mod
from exams.progress import log
from exams.settings import DBT_PROJECT_DIR, EXPECTATIONS_DIR, REPO_ROOT, Settings

DQ_RESULTS_DDL = """
CREATE TABLE IF NOT EXISTS audit.dq_results (
    run_id VARCHAR, run_at TIMESTAMP, suite VARCHAR, expectation VARCHAR, column_name VARCHAR,
    success BOOLEAN, unexpected_count BIGINT, blocking BOOLEAN
)"""


class StageFailed(SystemExit):
    """A stage failed: the message says what, where, and the run exits non-zero."""

    def __init__(self, message: str) -> None:
        super().__init__(f"FAILED: {message}")


def code_fingerprint() -> str:
    """Hash of what turns exports into tables (models, seeds, macros, suites, package code):
    a deployment that changes them forces a rebuild even when no export changed."""
    digest = hashlib.sha256()
    roots = [DBT_PROJECT_DIR / d for d in ("models", "seeds", "macros")]
    roots += [EXPECTATIONS_DIR, REPO_ROOT / "src" / "exams"]
    for root in roots:
        for path in sorted(
            p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
        ):
            digest.update(str(path.relative_to(REPO_ROOT)).encode())
            digest.update(path.read_bytes())
    digest.update((DBT_PROJECT_DIR / "dbt_project.yml").read_bytes())
    return digest.hexdigest()


def ingest(s: Settings) -> dict:
    from exams.ingest import load

    key = s.pseudonym_key()
    s.work_dir.mkdir(parents=True, exist_ok=True)
    s.state_dir.chmod(0o700)
    result = load.run(s.raw_dir, s.build_db, s.work_dir, key, code_fingerprint())
    if not s.warehouse.exists():
        result.changed = True
    log(
        f"ingest: {result.files} file(s), {result.loaded} loaded, {result.rejected} rejected, "
        f"{result.rows_total} row(s), {result.rows_quarantined} quarantined; "
        f"{'changes to publish' if result.changed else 'nothing new since the last publication'}"
    )
    return result.__dict__


def _dbt(
    args: list[str], s: Settings, manifest: object | None = None, publish_db: Path | None = None
):
    """One dbt command in this process (dbtRunner), against the build database with the
    publication file attached (`publish_db`, by default `<warehouse>.new`); returns dbt's
    result (for `parse`, the manifest). A manifest from an earlier `parse` skips re-parsing."""
    from dbt.cli.main import dbtRunner

    os.environ["EXAMS_BUILD_DB"] = str(s.build_db)
    os.environ["EXAMS_PUBLISH_DB"] = str(publish_db or s.new_db)
    common = [
        "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(s.work_dir / "dbt_target"), "--log-path", str(s.work_dir / "dbt_logs"),
    ]  # fmt: skip
    result = dbtRunner(manifest=manifest).invoke([*args, *common])  # type: ignore[arg-type]
    if result.exception is not None:
        raise StageFailed(f"dbt {args[0]}: {result.exception}")
    if not result.success:
        failed = [
            f"{r.node.resource_type} {r.node.name}: {r.status} — {(r.message or '').strip()}"
            for r in (result.result or [])
            if str(r.status).lower() in {"error", "fail", "runtime error"}
        ]
        raise StageFailed(f"dbt {args[0]} failed:\n  " + "\n  ".join(failed or ["see dbt logs"]))
    return result.result


def dq_history_db(s: Settings) -> Path:
    """Private history of data-quality results (a separate file: the check stage may run in
    the same process as dbt, which holds the build database open)."""
    return s.build_db.with_name(s.build_db.stem + ".dq.duckdb")


def transform(s: Settings) -> None:
    """dbt build (seeds, models, data tests): staging and intermediate models in the build
    database, the published ones in the candidate publication file (`published` in
    profiles.yml); dbt docs; then the publication file is completed and closed (finish_new).

    - One parse per run, reused by every dbt command of the process; it is a partial parse
      (dbt's partial_parse.msgpack in the state folder's dbt_target, kept across nightly runs).
    - No unit tests here: they check the SQL, not the data, and run in development and CI
      (`make test`, tests/test_dbt_unit.py), as dbt recommends.
    - dbt docs are generated again only when the project (code_fingerprint), dbt, the profile or
      the schema of the build database or the publication file changed; otherwise the previous
      run's site is put back, so the published docs are the ones `dbt docs generate` would write.
    """
    # a killed run's publication file and its write-ahead log: nothing of it is reused
    for leftover in (s.new_db, s.new_db.with_name(s.new_db.name + ".wal")):
        leftover.unlink(missing_ok=True)
    manifest = _dbt(["parse"], s)
    _dbt(["build", "--exclude-resource-type", "unit_test"], s, manifest)
    key = _docs_key(s)
    if _restore_docs(s, key):
        log("transform: dbt docs unchanged (project and schema as at the last generation)")
    else:
        _dbt(["docs", "generate"], s, manifest)
        _save_docs(s, key)
    finish_new(s)


DOCS_FILES = ("index.html", "catalog.json", "manifest.json")


def _docs_cache(s: Settings) -> Path:
    return s.work_dir / "dbt_docs_cache"


def _docs_key(s: Settings) -> str:
    """What `dbt docs generate` depends on: the project (code_fingerprint: models, seeds,
    macros, dbt_project.yml, the package), dbt's and DuckDB's versions, the profile, the paths
    written into the manifest (project and target folders, the build database), and the schema
    of the build database and the publication file, which the catalog describes."""
    import dbt.version

    digest = hashlib.sha256()
    for part in (
        code_fingerprint(), dbt.version.__version__, duckdb.__version__, str(DBT_PROJECT_DIR),
        str(s.work_dir), str(s.build_db), (DBT_PROJECT_DIR / "profiles.yml").read_text(),
    ):  # fmt: skip
        digest.update(part.encode() + b"\0")
    con = duckdb.connect(str(s.build_db))  # the same instance as dbt's (same process)
    try:
        attached = {name for (name,) in con.execute("SELECT database_name FROM duckdb_databases()")
                    .fetchall()}  # fmt: skip
        if "published" not in attached and s.new_db.exists():  # outside dbt's process
            con.execute(f"ATTACH '{s.new_db}' AS published (READ_ONLY)")
        schema = con.execute(
            "SELECT schema_name, table_name, column_index, column_name, data_type, comment "
            "FROM duckdb_columns() WHERE database_name IN (current_database(), 'published') "
            "AND table_name <> 'dq_results' "  # not dbt's: added after the docs (finish_new)
            "ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()
    digest.update(repr(schema).encode())
    return digest.hexdigest()


def _restore_docs(s: Settings, key: str) -> bool:
    cache, target = _docs_cache(s), s.work_dir / "dbt_target"
    stamp = cache / "key"
    if not (stamp.exists() and stamp.read_text() == key):
        return False
    if not all((cache / name).exists() for name in DOCS_FILES):
        return False
    for name in DOCS_FILES:  # over the build's manifest.json: the docs' own is published
        shutil.copyfile(cache / name, target / name)
    return True


def _save_docs(s: Settings, key: str) -> None:
    cache, target = _docs_cache(s), s.work_dir / "dbt_target"
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "key").unlink(missing_ok=True)  # no key while the files change
    for name in DOCS_FILES:
        shutil.copyfile(target / name, cache / name)
    (cache / "key").write_text(key)


def finish_new(s: Settings) -> None:
    """Complete the publication file dbt built the published relations into: the history of
    data-quality results (every earlier run's, failed runs included; the check stage appends
    this run's), then close it so that the check stage can open it."""
    # the same instance as dbt's (same process), where the file is attached as `published`
    con = duckdb.connect(str(s.build_db))
    try:
        con.execute(DQ_RESULTS_DDL.replace("audit.", "published.audit."))
        history = dq_history_db(s)
        if history.exists():
            con.execute(f"ATTACH '{history}' AS history (READ_ONLY)")
            con.execute(
                "INSERT INTO published.audit.dq_results SELECT * FROM history.audit.dq_results"
            )
            con.execute("DETACH history")
        (tables,) = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'published'"
        ).fetchone()
        con.execute("DETACH published")
    finally:
        con.close()
    log(f"transform: {tables} table(s) built into {s.new_db.name}")


def check(s: Settings) -> None:
    from exams import checks

    if not s.new_db.exists():
        raise StageFailed(f"{s.new_db} is missing: run the transform stage first")
    checks.run(s)


def publish(s: Settings) -> None:
    if not s.new_db.exists():
        raise StageFailed(f"{s.new_db} is missing: nothing validated to publish")
    s.warehouse.parent.mkdir(parents=True, exist_ok=True)
    os.replace(s.new_db, s.warehouse)
    docs = s.work_dir / "dbt_target"
    site = s.publish_dir / "dbt_docs"
    site.mkdir(exist_ok=True)
    for name in ("index.html", "catalog.json", "manifest.json"):
        if (docs / name).exists():
            shutil.copyfile(docs / name, site / name)
    from exams.ingest import load

    load.mark_published(s.build_db, code_fingerprint())
    log(f"publish: {s.warehouse} (dbt docs in {site})")


def extracts(s: Settings) -> None:
    from exams import extracts as extracts_mod

    extracts_mod.write_all(s)


STAGES = {
    "ingest": ingest,
    "transform": transform,
    "check": check,
    "publish": publish,
    "extracts": extracts,
}


def run_stage(name: str, s: Settings) -> None:
    result = STAGES[name](s)
    if name == "ingest":
        import json

        print(json.dumps(result))


def run_all(s: Settings | None = None, force: bool = False) -> None:
    s = s or settings_mod.load()
    force = force or s.force_rebuild
    result = ingest(s)
    if not result["changed"] and not force:
        log("no new or changed export: the publication is up to date")
        return
    for stage in ("transform", "check", "publish", "extracts"):
        STAGES[stage](s)
