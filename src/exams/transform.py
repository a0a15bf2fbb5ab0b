"""The transform stage: one `dbt build` (seeds, staging → intermediate → marts, data tests) on
the private build database, which writes the published relations (marts, audit, reference)
straight into the candidate publication file `<warehouse>.new` (attached as `published` in
profiles.yml); then dbt docs as one static page; then the file is completed and closed.

- One parse per run, reused by every dbt command of the process (dbt's partial parse, kept in
  the state folder across nights).
- No unit tests here: they test the SQL, not the night's data, and run in development and CI
  (`make test`), as dbt recommends.
- dbt docs are generated again only when what they describe changed (decisions.md); otherwise
  the previous page is kept, which is what `dbt docs generate` would write.
- A failed build leaves no candidate file behind (nor its write-ahead log).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path

import duckdb

from exams import checks, publication
from exams.errors import StageFailed
from exams.settings import DBT_PROJECT_DIR, Settings

log = logging.getLogger(__name__)

DOCS_PAGE = "static_index.html"  # the whole site in one file: opens from disk, offline


def candidate_files(s: Settings) -> list[Path]:
    """The candidate publication file and what a killed run may leave of it."""
    new = s.new_db
    return [new, new.with_name(new.name + ".wal"), new.with_name(new.name + ".publishing")]


def remove_candidate(s: Settings) -> None:
    for leftover in candidate_files(s):
        leftover.unlink(missing_ok=True)


def dbt(args: list[str], s: Settings, manifest: object | None = None,
        publish_db: Path | None = None):  # fmt: skip
    """One dbt command in this process (dbtRunner) against the build database, with the
    publication file attached (`publish_db`, by default `<warehouse>.new`); returns dbt's
    result (for `parse`, the manifest). A manifest from an earlier `parse` skips re-parsing."""
    from dbt.cli.main import dbtRunner

    os.environ.update(s.dbt_env())  # what profiles.yml reads (env_var)
    if publish_db is not None:
        os.environ["EXAMS_PUBLISH_DB"] = str(publish_db)
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


def run(s: Settings) -> None:
    remove_candidate(s)  # a killed run's candidate: nothing of it is reused
    try:
        manifest = dbt(["parse"], s)
        dbt(["build", "--exclude-resource-type", "unit_test"], s, manifest)
        key = _docs_key(s)
        if _restore_docs(s, key):
            log.info("transform: dbt docs unchanged (project and schema as at the last run)")
        else:
            # the build compiled every node already: --no-compile (decisions.md)
            dbt(["docs", "generate", "--static", "--no-compile"], s, manifest)
            _save_docs(s, key)
        _finish_new(s)
    except BaseException:
        remove_candidate(s)
        raise


def docs_page(s: Settings) -> Path:
    return s.work_dir / "dbt_target" / DOCS_PAGE


def _docs_cache(s: Settings) -> Path:
    return s.work_dir / "dbt_docs_cache"


def _docs_key(s: Settings) -> str:
    """What `dbt docs generate` depends on: the project (code fingerprint), dbt's and DuckDB's
    versions, the profile, the paths written into the manifest, and the schema of the build
    database and the publication file, which the catalog describes."""
    import dbt.version

    digest = hashlib.sha256()
    for part in (
        publication.code_fingerprint(), dbt.version.__version__, duckdb.__version__,
        str(DBT_PROJECT_DIR), str(s.work_dir), str(s.build_db),
        (DBT_PROJECT_DIR / "profiles.yml").read_text(),
    ):  # fmt: skip
        digest.update(part.encode() + b"\0")
    con = duckdb.connect(str(s.build_db))  # the same instance as dbt's (same process)
    try:
        attached = {name for (name,) in con.execute(
            "SELECT database_name FROM duckdb_databases()").fetchall()}  # fmt: skip
        if "published" not in attached and s.new_db.exists():  # outside dbt's process
            con.execute(f"ATTACH '{s.new_db}' AS published (READ_ONLY)")
        schema = con.execute(
            "SELECT schema_name, table_name, column_index, column_name, data_type, comment "
            "FROM duckdb_columns() WHERE database_name IN (current_database(), 'published') "
            "AND table_name <> 'dq_results' "  # not dbt's: added after the docs
            "ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()
    digest.update(repr(schema).encode())
    return digest.hexdigest()


def _restore_docs(s: Settings, key: str) -> bool:
    cache = _docs_cache(s)
    stamp = cache / "key"
    if not (stamp.exists() and stamp.read_text() == key and (cache / DOCS_PAGE).exists()):
        return False
    shutil.copyfile(cache / DOCS_PAGE, docs_page(s))
    return True


def _save_docs(s: Settings, key: str) -> None:
    cache = _docs_cache(s)
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "key").unlink(missing_ok=True)  # no key while the page changes
    shutil.copyfile(docs_page(s), cache / DOCS_PAGE)
    (cache / "key").write_text(key)


def _finish_new(s: Settings) -> None:
    """Complete the publication file: the history of data-quality results (every earlier run's,
    failed ones included; the check stage appends this run's), then close it."""
    # the same instance as dbt's (same process), where the file is attached as `published`
    con = duckdb.connect(str(s.build_db))
    try:
        con.execute(checks.DQ_RESULTS_DDL.replace("audit.", "published.audit."))
        history = checks.history_db(s)
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
    log.info("transform: %d table(s) built into %s", tables, s.new_db.name)


def publish_docs(s: Settings) -> Path:
    """The dbt docs page beside the served file (`dbt_docs/index.html`, one static file)."""
    site = s.publish_dir / "dbt_docs"
    site.mkdir(exist_ok=True)
    tmp = site / "index.html.tmp"
    shutil.copyfile(docs_page(s), tmp)
    os.replace(tmp, site / "index.html")
    for old in ("catalog.json", "manifest.json"):  # the former three-file site
        (site / old).unlink(missing_ok=True)
    return site
