"""Real runs of the DAG (`dag.test()`, every stage through the transform environment's CLI) on
the committed sample, into a temporary warehouse."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from airflow_expected import latest_exports, loaded_quarantine, pass_rate_counts, sha256

from exams import orchestration as orch

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DIR = REPO_ROOT / "data" / "raw"
EXAMS = Path(sys.executable).with_name("exams")  # the Airflow environment's command
FAILING_SUITE = """\
name: injected_failure
description: A blocking expectation that cannot pass (test of write-audit-publish).
query: SELECT count(*) AS n FROM marts.pass_rates
expectations:
  - type: ExpectColumnValuesToBeBetween
    kwargs: {column: n, min_value: -2, max_value: -1}
    blocking: true
"""


def pipeline_env(base: Path, raw_dir: Path = SAMPLE_DIR) -> dict[str, str]:
    return {
        "EXAMS_MODE": "test",
        "EXAMS_PSEUDONYM_KEY": "test-key-not-secret",
        "EXAMS_RAW_DIR": str(raw_dir),
        "EXAMS_WAREHOUSE": str(base / "warehouse" / "results.duckdb"),
        "EXAMS_EXTRACTS_DIR": str(base / "extracts"),
        "EXAMS_DAG_RETRIES": "0",
    }


@pytest.fixture(scope="module")
def published(tmp_path_factory, airflow_db, transform_cli) -> dict:
    """One nightly run of the DAG, in this process, on the committed sample."""
    base = tmp_path_factory.mktemp("nightly")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in pipeline_env(base).items():
            mp.setenv(key, value)
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
        assert bag.import_errors == {}
        run = bag.dags[orch.DAG_ID].test(logical_date=datetime.now(UTC))
        states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    return {
        "run": run,
        "states": states,
        "base": base,
        "warehouse": base / "warehouse" / "results.duckdb",
    }


def test_nightly_run_succeeds_and_publishes(published) -> None:
    from airflow.sdk import DagRunState

    assert published["run"].state == DagRunState.SUCCESS, published["states"]
    assert set(published["states"].values()) == {"success"}, published["states"]
    # the run released its lock (the teardown task)
    lock = published["warehouse"].parent / ".private" / "results.run.lock"
    assert lock.read_text() == ""
    assert published["warehouse"].exists()
    con = duckdb.connect(str(published["warehouse"]), read_only=True)
    sessions = {
        str(s) for (s,) in con.execute("SELECT DISTINCT session FROM marts.pass_rates").fetchall()
    }
    con.close()
    assert sessions and all((published["base"] / "extracts" / s).is_dir() for s in sessions)


def test_published_pass_rates_agree_with_the_jury_decisions_in_the_sample(published) -> None:
    con = duckdb.connect(str(published["warehouse"]), read_only=True)
    loaded = con.execute(
        "SELECT file_name, sha256 FROM audit.file_manifest WHERE status = 'LOADED'"
    ).fetchall()
    rows = con.execute(
        "SELECT session, academy_code, candidate_category, registered, present, admitted, pass_rate "
        "FROM marts.pass_rates"
    ).fetchall()
    con.close()

    # what the expected figures below rely on: the latest export of each (session, académie)
    # is the one loaded (same bytes); the candidates of its lines in quarantine are incomplete
    assert sorted(sha for _, sha in loaded) == sorted(sha256(p) for p in latest_exports(SAMPLE_DIR))
    quarantined = loaded_quarantine(published["warehouse"], SAMPLE_DIR)
    assert quarantined

    expected = pass_rate_counts(SAMPLE_DIR, quarantined)
    got = {(str(s), a, c): (r, p, ad) for s, a, c, r, p, ad, _ in rows}
    assert got == expected
    assert sum(ad for _, _, ad in expected.values()) > 0
    for *_, present, admitted, rate in rows:
        assert rate == (pytest.approx(admitted / present) if present else None)


def test_a_night_without_new_exports_skips_the_rebuild_and_verifies_the_extracts(
    published,
) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import DagRunState

    before = _digest(published["warehouse"])
    with pytest.MonkeyPatch.context() as mp:
        for key, value in pipeline_env(published["base"]).items():
            mp.setenv(key, value)
        dag = DagBag(dag_folder=str(REPO_ROOT / "dags")).dags[orch.DAG_ID]
        run = dag.test(logical_date=datetime.now(UTC))
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert run.state == DagRunState.SUCCESS, states
    assert states == {
        "acquire_lock": "success",
        "ingest": "success",
        **dict.fromkeys(["transform", "check", "publish"], "skipped"),
        "extracts": "success",
        "release_lock": "success",
    }
    assert _digest(published["warehouse"]) == before


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("failure", ["unreadable raw folder", "blocking check fails"])
def test_a_failed_run_fails_and_leaves_the_published_warehouse_untouched(
    published, tmp_path, failure
) -> None:
    warehouse = published["warehouse"]
    assert warehouse.exists()
    before = _digest(warehouse)

    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(pipeline_env(published["base"]))
    args = [str(EXAMS), "pipeline"]
    if failure == "unreadable raw folder":
        env["EXAMS_RAW_DIR"] = str(tmp_path / "no-such-folder")
        failed_task = "ingest"
    else:
        (tmp_path / "suites").mkdir()
        (tmp_path / "suites" / "injected.yml").write_text(FAILING_SUITE)
        env["EXAMS_SUITES_DIR"] = str(tmp_path / "suites")
        args += ["--force"]  # rebuild although no export changed
        failed_task = "check"
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=900)
    report = proc.stdout + proc.stderr

    assert proc.returncode == 1, report
    assert "result: FAILED" in report
    assert f"--- {failed_task} failed" in report
    publish_line = next(line for line in report.splitlines() if line.strip().startswith("publish "))
    assert "upstream_failed" in publish_line, report
    assert _digest(warehouse) == before
    con = duckdb.connect(str(warehouse), read_only=True)
    assert con.execute("SELECT count(*) FROM marts.pass_rates").fetchone()[0] > 0
    con.close()
