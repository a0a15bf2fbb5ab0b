"""The nightly DAG in a production-like Airflow (PostgreSQL, LocalExecutor, separate scheduler,
dag-processor and api-server), driven through the REST API; then faults: a transform killed
mid-run, and a corrected export delivered later."""

from __future__ import annotations

import hashlib
import hmac
import os
import signal
import subprocess
import time

import pytest
from airflow_expected import latest_exports, loaded_quarantine, pass_rate_counts
from prod_support import (
    EXAMS,
    REPO_ROOT,
    AirflowStack,
    Api,
    PipelineDirs,
    check_extract_folder,
    clean_environ,
    marts_snapshot,
    query,
    run_dag,
    sha256,
    stop_processes,
    tail,
    write_correction,
)

from exams import orchestration

pytestmark = pytest.mark.slow
STAGES = ("acquire_lock", *orchestration.STAGE_NAMES, "release_lock")


def pass_rates(dirs: PipelineDirs) -> dict[tuple[str, str, str], tuple[int, int, int]]:
    rows = query(dirs.warehouse, "SELECT session, academy_code, candidate_category, registered, "
                                 "present, admitted FROM marts.pass_rates")  # fmt: skip
    return {(str(s), a, c): (r, p, ad) for s, a, c, r, p, ad in rows}


def check_extracts(dirs: PipelineDirs) -> dict[str, dict]:
    """Every published session has its folder, whose manifest matches its files."""
    sessions = {str(s) for (s,) in query(dirs.warehouse,
                                         "SELECT DISTINCT session FROM marts.pass_rates")}  # fmt: skip
    folders = {p.name for p in dirs.extracts.iterdir() if p.is_dir()}
    assert sessions and folders == sessions, (sessions, folders)
    return {s: check_extract_folder(dirs.extracts / s) for s in sorted(sessions)}


@pytest.fixture(scope="module")
def first_run(api: Api, airflow_stack: AirflowStack, pipeline_dirs: PipelineDirs) -> dict:
    """Unpause the DAG and trigger one run through the REST API, on the sample."""
    assert api.wait_for_dag(airflow_stack)["is_paused"] is True  # DAGs start paused
    assert api.set_paused(False)["is_paused"] is False
    started = time.monotonic()
    run_id, states = run_dag(api, airflow_stack)
    return {"run_id": run_id, "states": states, "seconds": time.monotonic() - started}


def test_triggered_run_publishes_the_expected_warehouse_and_extracts(
    first_run: dict, pipeline_dirs: PipelineDirs
) -> None:
    dirs = pipeline_dirs
    assert first_run["states"] == dict.fromkeys(STAGES, "success")
    assert dirs.warehouse.exists()
    loaded = query(dirs.warehouse, "SELECT sha256 FROM audit.file_manifest WHERE status = 'LOADED'")
    assert sorted(s for (s,) in loaded) == sorted(sha256(p) for p in latest_exports(dirs.raw))

    got = pass_rates(dirs)
    assert got and got == pass_rate_counts(dirs.raw, loaded_quarantine(dirs.warehouse, dirs.raw))
    assert sum(admitted for *_, admitted in got.values()) > 0

    manifests = check_extracts(dirs)
    (run_id,) = query(dirs.warehouse, "SELECT max(run_id) FROM audit.dq_results")[0]
    assert {m["run_id"] for m in manifests.values()} == {run_id}


def test_a_transform_killed_mid_run_leaves_the_publication_and_the_next_run_rebuilds_it(
    first_run: dict, api: Api, airflow_stack: AirflowStack, pipeline_dirs: PipelineDirs, tmp_path
) -> None:
    dirs = pipeline_dirs
    published = dirs.warehouse
    digest = sha256(published)
    marts = marts_snapshot(published)
    assert marts["pass_rates"]

    dbt_log = dirs.work / "dbt_logs" / "dbt.log"
    offset = dbt_log.stat().st_size if dbt_log.exists() else 0
    out = tmp_path / "transform.out"
    env = {**clean_environ(), **dirs.env()}
    with out.open("wb") as f:
        proc = subprocess.Popen([str(EXAMS), "transform"], env=env, cwd=REPO_ROOT, stdout=f,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        built = 0
        while time.monotonic() < deadline and proc.poll() is None and built < 10:
            if dbt_log.exists():  # kill once dbt build has written ~10 of its ~100 nodes
                with dbt_log.open("rb") as log:
                    log.seek(offset)
                    built = log.read().count(b" OK created ")
            time.sleep(0.1)
        assert built >= 10 and proc.poll() is None, (
            f"transform not killed mid-build ({built} nodes built):\n{tail(out)}"
        )
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        stop_processes([proc])
    assert proc.returncode == -signal.SIGKILL

    assert published.exists() and sha256(published) == digest
    assert query(published, "SELECT count(*) FROM marts.pass_rates")[0][0] == len(
        marts["pass_rates"]
    )

    # the next full run (rebuild on demand: no export changed) completes and gives the same marts
    _, states = run_dag(api, airflow_stack, conf={"force_rebuild": True})
    assert states == dict.fromkeys(STAGES, "success")
    assert marts_snapshot(published) == marts
    assert not published.with_name(published.name + ".new").exists()


def test_a_corrected_export_supersedes_the_old_one_in_the_next_run(
    first_run: dict, api: Api, airflow_stack: AirflowStack, pipeline_dirs: PipelineDirs
) -> None:
    dirs = pipeline_dirs
    old = next(p for p in latest_exports(dirs.raw) if p.name.startswith("NDRC_2025_10_"))
    before_rates = query(dirs.warehouse, "SELECT * FROM marts.pass_rates ORDER BY ALL")
    before_manifest = check_extracts(dirs)["2025"]
    mismatched = ("SELECT count(*) FROM marts.fct_candidate_session WHERE session = 2025 "
                  "AND academy_code = '10' AND NOT (decision_matches AND average_matches)")  # fmt: skip
    (before_mismatches,) = query(dirs.warehouse, mismatched)[0]

    new, candidate = write_correction(dirs.raw, old)
    run_id, states = run_dag(api, airflow_stack)
    assert states == dict.fromkeys(STAGES, "success"), states

    status = dict(query(dirs.warehouse, "SELECT file_name, status FROM audit.file_manifest"))
    assert status[new.name] == "LOADED" and status[old.name] == "SUPERSEDED", status

    after_rates = query(dirs.warehouse, "SELECT * FROM marts.pass_rates ORDER BY ALL")
    changed = {(str(r[0]), r[1]) for r in set(after_rates) ^ set(before_rates)}
    assert changed == {("2025", "10")}, changed
    # one admitted candidate fewer
    assert pass_rates(dirs) == pass_rate_counts(dirs.raw, loaded_quarantine(dirs.warehouse, dirs.raw))
    # the correction is consistent: the corrected candidate's recomputed decision and average
    # are the jury's, and no other difference appeared
    secret = dirs.env()["EXAMS_PSEUDONYM_KEY"].encode()
    key = hmac.new(secret, candidate.encode(), hashlib.sha256).hexdigest()  # candidate_key
    corrected = query(dirs.warehouse, "SELECT decision, decision_matches, average_matches FROM "
                      f"marts.fct_candidate_session WHERE candidate_key = '{key}'")  # fmt: skip
    assert corrected == [("REFUSE", True, True)] or corrected == [("CONTROLE", True, True)]
    assert query(dirs.warehouse, mismatched)[0][0] <= before_mismatches, candidate

    manifests = check_extracts(dirs)
    after_manifest = manifests["2025"]
    (dq_run,) = query(dirs.warehouse, "SELECT max(run_id) FROM audit.dq_results")[0]
    assert after_manifest["run_id"] == dq_run != before_manifest["run_id"]
    sha_before = {f["file"]: f["sha256"] for f in before_manifest["files"]}
    sha_after = {f["file"]: f["sha256"] for f in after_manifest["files"]}
    for name in ("ndrc_2025_pass_rates.csv", "ndrc_2025_pass_rates.parquet"):
        assert sha_after[name] != sha_before[name], name
