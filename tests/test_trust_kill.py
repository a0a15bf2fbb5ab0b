"""A run killed (SIGKILL) at any stage, then the next run: the served warehouse is always a
complete publication — the one before or the killed run's, readable, with its contract tables
— and after the next run nothing of the killed one is left behind (candidate file, its
write-ahead log, `.publishing`, transcoded copies, temp extract folders, the lock), and the
extracts are those of the publication (their manifest's run is the warehouse's latest check,
every file's sha256 as listed). What is published is exactly what the checks approved.

Each kill waits for a mark of its stage (no delay as synchronisation): ingest — the transcoded
copy of a new Windows-1252 export in the work folder; transform — the candidate file `.new`;
check — great-expectations' temp folder of batches; publish — the approved file renamed
`.publishing`, or already moved onto the served path; extracts — a session's temp folder.
"""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import duckdb
import pytest
from helpers import (
    PublicationCopy,
    assert_whole_publication,
    publication_run,
    sha256_of,
    start_exams,
    wait_for,
    workspace,
    write_clean,
)
from pipeline_support import SAMPLE_DIR

from exams.generator import DIALECTS

NEW_EXPORT = "NDRC_2025_10_20250901T120000.csv"  # a correction delivered before the killed run


def _kill(p: PublicationCopy, stage: str) -> dict:
    """An `exams run` killed once its stage's mark appears; what it left."""
    work = p.state / f"{p.warehouse.stem}.work"
    served = p.warehouse.stat().st_ino
    marks = {
        "ingest": lambda: any((work / "ingest").glob("*.utf8.csv")),
        "transform": p.new.exists,
        # the checks' temp folder: great-expectations is validating the candidate file
        "check": lambda: any(work.glob("checks-*")),
        # the approved file renamed to its private name, or already moved onto the served path
        "publish": lambda: (p.new.with_name(p.new.name + ".publishing").exists()
                            or p.warehouse.stat().st_ino != served),
        "extracts": lambda: any(p.extracts.glob(".*.tmp")),
    }  # fmt: skip
    args = ["run"] if stage == "ingest" else ["run", "--force"]
    proc = start_exams(*args, env=p.env)
    try:
        if stage == "publish":  # a moment of milliseconds: watched closely once checks end
            wait_for(marks["check"], proc, "the check stage")
            wait_for(lambda: not marks["check"](), proc, "the end of the checks")
        wait_for(marks[stage], proc, f"the {stage} stage", busy=stage == "publish")
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    return p.record()  # the killed run's: its flock went with it, its record stays


@pytest.fixture(scope="module")
def sample_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample and a new Windows-1252 export, large enough to be transcoded a while."""
    raw = tmp_path_factory.mktemp("raw_with_new_export")
    shutil.copytree(SAMPLE_DIR, raw, dirs_exist_ok=True)
    write_clean(raw, 2025, "10", n=3000, dialect=DIALECTS[2], name=NEW_EXPORT)
    return raw


@pytest.mark.parametrize("stage", ["ingest", "transform", "check", "publish", "extracts"])
def test_a_run_killed_at_any_stage_is_repaired_by_the_next(
    stage: str, published_warehouse: Path, sample_raw: Path, tmp_path_factory
) -> None:
    p = workspace(published_warehouse, tmp_path_factory).copy(
        sample_raw if stage == "ingest" else None
    )
    old_sha, old_run = sha256_of(p.warehouse), publication_run(p.warehouse)
    killed = _kill(p, stage)
    assert killed["run_id"]
    # right after the kill: the served file is a whole publication, the old one or the new one
    served = publication_run(p.warehouse)
    if stage in ("ingest", "transform", "check"):
        assert sha256_of(p.warehouse) == old_sha
    elif stage == "extracts":
        assert served == killed["run_id"] != old_run
    else:
        assert sha256_of(p.warehouse) == old_sha or served == killed["run_id"]

    repair = p.exams("run")
    assert "taking over the lock left by run " + killed["run_id"] in repair.stderr
    run_id = assert_whole_publication(p)
    if stage == "ingest":  # the new export was not published yet: now it is
        con = duckdb.connect(str(p.warehouse), read_only=True)
        try:
            assert con.execute("SELECT status FROM audit.file_manifest WHERE file_name = ?",
                               [NEW_EXPORT]).fetchone() == ("LOADED",)  # fmt: skip
        finally:
            con.close()
        assert run_id not in (old_run, killed["run_id"])
    # and a night later, nothing to do: the publication does not change
    before = _published_files(p)
    p.exams("run")
    assert _published_files(p) == before


def _published_files(p: PublicationCopy) -> dict:
    return {k: v for k, v in p.files().items() if "/.private/" not in k}


def test_publish_moves_only_the_file_the_checks_approved(
    published_warehouse: Path, tmp_path_factory
) -> None:
    """The candidate file changed after the checks approved it (stages run as the DAG runs
    them, one process each): `exams publish` refuses it, the served file stays as it was, and
    the changed file is not left to be published later."""
    p = workspace(published_warehouse, tmp_path_factory).copy()
    before = sha256_of(p.warehouse)
    dag = {"EXAMS_RUN_ID": "dag-tamper", "EXAMS_FORCE_REBUILD": "1"}
    for stage in ("ingest", "transform", "check"):
        p.exams(stage, **dag)
    con = duckdb.connect(str(p.new))
    con.execute("UPDATE marts.pass_rates SET admitted = admitted + 1")
    con.close()
    proc = p.exams("publish", check=False, **dag)
    assert proc.returncode == 1
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("exams: error: results.duckdb.new is not the file the checks approved")
    assert "not published, the served file is unchanged" in line and "Traceback" not in proc.stderr
    assert sha256_of(p.warehouse) == before
    assert not p.new.exists() and not p.new.with_name(p.new.name + ".publishing").exists()
    # nothing approved any more: a second attempt publishes nothing either
    again = p.exams("publish", check=False, **dag)
    assert again.returncode == 1 and "results.duckdb.new is missing" in again.stderr
    assert sha256_of(p.warehouse) == before
    p.exams("release-lock", "--run-id", "dag-tamper")
    p.exams("run")
    assert_whole_publication(p)
