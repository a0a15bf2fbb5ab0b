"""The whole run without Airflow (ingest → dbt build → checks → publish → extracts) on the
committed sample: marts against the jury, personal data, write-audit-publish, re-runs."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import duckdb
from helpers import read_export
from pipeline_support import SAMPLE_DIR, pipeline_env, run_exams

PERSONAL = {"nom", "prenom", "date_naissance", "numero_candidat", "candidate_number"}


def _latest_exports(raw_dir: Path) -> dict[tuple[str, str], Path]:
    latest: dict[tuple[str, str], Path] = {}
    for p in sorted(raw_dir.glob("*.csv")):
        m = re.match(r"NDRC_(\d{4})_(\d{2})_(\d{8}T\d{6})\.csv$", p.name)
        if m and ((m[1], m[2]) not in latest or latest[(m[1], m[2])].name < p.name):
            latest[(m[1], m[2])] = p
    return latest


def jury_expectations(raw_dir: Path, quarantined: set[tuple[str, int]]) -> dict[tuple, tuple]:
    """(session, académie, category) -> (registered, present, admitted) from the jury's
    decisions in the latest export of each (session, académie); a candidate with a line in
    quarantine (`quarantined`: file name and physical line) is registered only."""
    out: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for (session, academy), path in _latest_exports(raw_dir).items():
        seen: dict[str, tuple[str, str]] = {}
        incomplete: set[str] = set()
        for line, r in read_export(path).items():
            if (path.name, line) in quarantined:
                incomplete.add(r["numero_candidat"])
                continue
            seen.setdefault(r["numero_candidat"], (r["categorie_candidat"], r["decision"]))
        for numero, (category, decision) in seen.items():
            c = out[(int(session), academy, category)]
            c[0] += 1
            complete = numero not in incomplete
            c[1] += complete and decision != "ABSENT"
            c[2] += complete and decision == "ADMIS"
    return {k: tuple(v) for k, v in out.items()}


def test_marts_equal_the_jury_decisions_of_the_sample(published_warehouse: Path) -> None:
    con = duckdb.connect(str(published_warehouse), read_only=True)
    got = {
        (s, a, c): (reg, pres, adm)
        for s, a, c, reg, pres, adm in con.execute(
            "SELECT session, academy_code, candidate_category, registered, present, admitted "
            "FROM marts.pass_rates").fetchall()
    }  # fmt: skip
    quarantined = set(con.execute("SELECT file_name, line_number FROM audit.quarantine").fetchall())
    assert got == jury_expectations(SAMPLE_DIR, quarantined)
    # the sample's jury differs from the rule only by a REFUSE/CONTROLE swap or an average
    # off by 0.01 (exams.generator): never on who is admitted
    swaps = con.execute(
        "SELECT DISTINCT decision, reported_decision FROM marts.fct_candidate_session "
        "WHERE NOT decision_matches").fetchall()  # fmt: skip
    assert swaps and set(swaps) <= {("REFUSE", "CONTROLE"), ("CONTROLE", "REFUSE")}
    gaps = con.execute(
        "SELECT DISTINCT round(reported_average - round(computed_average, 2), 2) "
        "FROM marts.fct_candidate_session WHERE NOT average_matches").fetchall()  # fmt: skip
    assert gaps == [(0.01,)]
    statuses = dict(con.execute(
        "SELECT status, count(*) FROM audit.file_manifest GROUP BY ALL").fetchall())  # fmt: skip
    assert statuses == {"LOADED": 9, "SUPERSEDED": 1, "DUPLICATE": 1, "REJECTED": 1}


def test_published_file_holds_no_personal_data(published_warehouse: Path) -> None:
    con = duckdb.connect(str(published_warehouse), read_only=True)
    schemas = {
        r[0] for r in con.execute("SELECT DISTINCT schema_name FROM duckdb_tables()").fetchall()
    }
    assert schemas == {"marts", "audit", "reference"}
    columns = con.execute(
        "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns()"
    ).fetchall()
    assert not [c for c in columns if c[2] in PERSONAL]
    numbers, names = set(), set()
    for p in SAMPLE_DIR.glob("*.csv"):
        for r in read_export(p).values():
            numbers.add(r["numero_candidat"])
            names.add(r["nom"])
    con.execute("CREATE TEMP TABLE personal (v VARCHAR)")
    con.executemany("INSERT INTO personal VALUES (?)", [(v,) for v in numbers | names])
    for schema, table, column, dtype in columns:
        if dtype == "VARCHAR":
            leaked = con.execute(
                f'SELECT count(*) FROM {schema}.{table} WHERE "{column}" IN (SELECT v FROM personal)'
            ).fetchone()[0]
            assert leaked == 0, f"{schema}.{table}.{column} holds personal data"


def test_dq_results_written_for_the_run(published_warehouse: Path) -> None:
    con = duckdb.connect(str(published_warehouse), read_only=True)
    n, failed_blocking, suites = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE blocking AND NOT success), "
        "count(DISTINCT suite) FROM audit.dq_results").fetchone()  # fmt: skip
    assert n >= 15 and failed_blocking == 0 and suites >= 4
    assert (published_warehouse.parent / "data_docs" / "index.html").exists()
    assert (published_warehouse.parent / "dbt_docs" / "index.html").exists()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_blocking_failure_leaves_the_publication_untouched(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(SAMPLE_DIR, raw)
    warehouse = tmp_path / "wh" / "results.duckdb"
    env = pipeline_env(raw, warehouse)
    run_exams("run", env=env)
    before = _sha(warehouse)
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "impossible.yml").write_text(
        "name: impossible\nquery: SELECT * FROM marts.pass_rates\nexpectations:\n"
        "  - type: ExpectColumnValuesToBeBetween\n"
        "    kwargs: {column: pass_rate, min_value: 2, max_value: 3}\n    blocking: true\n"
    )
    env["EXAMS_SUITES_DIR"] = str(suites)
    proc = run_exams("run", "--force", env=env, check=False)
    assert proc.returncode != 0
    assert "impossible" in proc.stderr and "ExpectColumnValuesToBeBetween" in proc.stderr
    assert _sha(warehouse) == before
    assert not warehouse.with_name(warehouse.name + ".new").exists()
    con = duckdb.connect(str(warehouse), read_only=True)
    assert con.execute("SELECT count(*) FROM marts.pass_rates").fetchone()[0] > 0
    con.close()
    # a warning-only failure publishes
    (suites / "impossible.yml").write_text(
        (suites / "impossible.yml").read_text().replace("blocking: true", "blocking: false")
    )
    run_exams("run", "--force", env=env)
    con = duckdb.connect(str(warehouse), read_only=True)
    warned = con.execute(
        "SELECT count(*) FROM audit.dq_results WHERE suite = 'impossible' AND NOT success "
        "AND NOT blocking").fetchone()[0]  # fmt: skip
    assert warned == 1


def test_rerun_with_no_new_export_does_not_rebuild(published_warehouse: Path) -> None:
    env = pipeline_env(SAMPLE_DIR, published_warehouse)
    before = (_sha(published_warehouse), published_warehouse.stat().st_mtime_ns)
    proc = run_exams("run", env=env)
    assert "nothing changed since the last publication" in proc.stderr
    assert (_sha(published_warehouse), published_warehouse.stat().st_mtime_ns) == before


def test_check_export_reports_lines_rules_and_exit_status(tmp_path: Path) -> None:
    good = SAMPLE_DIR / "NDRC_2021_10_20210704T183000.csv"  # the sample's one clean file
    env = pipeline_env(SAMPLE_DIR, tmp_path / "wh" / "r.duckdb")
    ok = run_exams("check-export", str(good), env=env)
    assert "OK : prêt à être déposé" in ok.stdout
    bad = tmp_path / good.name
    text = good.read_bytes().decode("utf-8-sig").split("\n")
    fields = text[4].split(";")
    fields[11] = "XX"
    text[4] = ";".join(fields)
    bad.write_text("\n".join(text), encoding="utf-8")
    proc = run_exams("check-export", str(bad), env=env, check=False)
    assert proc.returncode == 1
    assert "ligne 5 : UNKNOWN_STATUT — statut —" in proc.stdout and "bilan :" in proc.stdout
    assert "valeur lue : « XX »" in proc.stdout  # on the rectorat's own machine only
    # the candidate of that line lacks a valid row for its épreuve, named by its number
    assert f"candidat {fields[2]} : " in proc.stdout and f": {fields[9]}" in proc.stdout


def test_refuses_to_run_without_a_pseudonym_key_outside_demo(tmp_path: Path) -> None:
    env = pipeline_env(SAMPLE_DIR, tmp_path / "wh" / "results.duckdb")
    env["EXAMS_MODE"] = "production"
    env.pop("EXAMS_PSEUDONYM_KEY")
    proc = run_exams("ingest", env=env, check=False)
    assert proc.returncode != 0
    assert "EXAMS_PSEUDONYM_KEY is not set" in proc.stderr
    assert not (tmp_path / "wh" / ".private" / "results.build.duckdb").exists()


def test_transform_reuses_the_parse_and_the_dbt_docs_until_the_code_changes(
    published_warehouse: Path, tmp_path: Path, monkeypatch
) -> None:
    """No unit tests in the nightly build; a second transform parses partially and puts the
    previous dbt docs back (what `dbt docs generate` would write); a code change regenerates."""
    from exams import publication, settings, transform

    warehouse = tmp_path / "warehouse" / "results.duckdb"
    shutil.copytree(published_warehouse.parent, warehouse.parent)
    env = pipeline_env(SAMPLE_DIR, warehouse) | {"EXAMS_FORCE_REBUILD": "1"}
    first = run_exams("transform", env=env)  # new paths: parsed and documented again
    assert "START unit_test" not in first.stdout and "START sql table model" in first.stdout
    assert "dbt docs unchanged" not in first.stderr
    second = run_exams("transform", env=env)
    assert "Unable to do partial parsing" not in second.stdout + second.stderr
    assert "dbt docs unchanged" in second.stderr
    work = warehouse.parent / ".private" / "results.work"
    page = transform.DOCS_PAGE
    assert (work / "dbt_target" / page).read_bytes() == (work / "dbt_docs_cache" / page).read_bytes()
    for name, value in pipeline_env(SAMPLE_DIR, warehouse).items():
        if name.startswith("EXAMS_"):
            monkeypatch.setenv(name, value)
    s = settings.load()
    key = transform._docs_key(s)
    assert transform._restore_docs(s, key)
    monkeypatch.setattr(publication, "code_fingerprint", lambda: "another deployment")
    assert transform._docs_key(s) != key
    assert not transform._restore_docs(s, transform._docs_key(s))


def test_a_killed_runs_publication_file_and_wal_are_not_reused(
    published_warehouse: Path, tmp_path: Path
) -> None:
    """dbt builds the published relations into `<warehouse>.new`: a file (and a write-ahead
    log) left by a killed run is removed first, never replayed into the new build."""
    warehouse = tmp_path / "warehouse" / "results.duckdb"
    shutil.copytree(published_warehouse.parent, warehouse.parent)
    new = warehouse.with_name(warehouse.name + ".new")
    # a process killed while writing the file: its changes are still in the write-ahead log
    killed = (
        "import duckdb, os, sys\n"
        "con = duckdb.connect(sys.argv[1])\n"
        "con.execute(\"SET checkpoint_threshold = '1TB'\")\n"
        "con.execute('CREATE SCHEMA marts; CREATE TABLE marts.stale AS SELECT 1 AS x')\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", killed, str(new)], check=True)
    assert new.with_name(new.name + ".wal").exists()
    run_exams("transform", env=pipeline_env(SAMPLE_DIR, warehouse) | {"EXAMS_FORCE_REBUILD": "1"})
    con = duckdb.connect(str(new), read_only=True)
    tables = {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    published = con.execute("SELECT count(*) FROM marts.pass_rates").fetchone()[0]
    con.close()
    assert "stale" not in tables
    con = duckdb.connect(str(warehouse), read_only=True)
    assert published == con.execute("SELECT count(*) FROM marts.pass_rates").fetchone()[0] > 0
    con.close()


def test_the_stages_are_the_ones_the_dag_runs() -> None:
    from exams import orchestration, pipeline

    assert tuple(pipeline.STAGES) == orchestration.STAGE_NAMES
