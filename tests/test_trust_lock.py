"""One run at a time, whoever starts it (warehouse-contract.md): a run that finds another one
running exits at once with status 75 and a message naming the run in progress, and touches
none of its files; between two stages of an orchestrated run (EXAMS_RUN_ID) the run keeps the
lock for a lease; a lock left by a killed process, or whose lease is over, is taken over and
said so; `exams release-lock --run-id X` releases X's lease only.

Real `exams` processes on a copy of the publication of the committed sample (conftest's
`published_warehouse`); the run holding the lock is frozen (SIGSTOP) while the others try, so
that the files compared before and after are not moving.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from helpers import PublicationCopy, publication_run, start_exams, wait_for, workspace

RUN_IN_PROGRESS = 75


@pytest.fixture
def copy(published_warehouse: Path, tmp_path_factory) -> PublicationCopy:
    return workspace(published_warehouse, tmp_path_factory).copy()


def _refused(proc, run_id: str) -> None:
    assert proc.returncode == RUN_IN_PROGRESS, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("exams: error: ") and f"run {run_id} " in lines[0]
    assert "this run stops and touches nothing" in lines[0]


def test_a_second_run_is_refused_at_once_and_touches_nothing(copy: PublicationCopy) -> None:
    before_run = publication_run(copy.warehouse)
    holder = start_exams("run", "--force", env=copy.env)
    new = copy.warehouse.with_name(copy.warehouse.name + ".new")
    try:
        wait_for(new.exists, holder, "the transform stage")  # the lock is held (flock)
        holder.send_signal(signal.SIGSTOP)
        record = copy.record()
        assert record["pid"] == holder.pid and record["entry"] == "exams run"
        before = copy.files()
        assert str(new) in before
        for args, env in [(("run",), {}), (("publish",), {}), (("ingest",), {}),
                          (("extracts",), {}), (("check",), {"EXAMS_RUN_ID": "dag-other"}),
                          (("run", "--force"), {"EXAMS_RUN_ID": record["run_id"]})]:  # fmt: skip
            proc = copy.exams(*args, check=False, **env)
            _refused(proc, record["run_id"])
            assert "is in progress" in proc.stderr
        # not its lock to release while one of its stages runs
        proc = copy.exams("release-lock", "--run-id", record["run_id"])
        assert "not held by it" in proc.stderr
        assert copy.files() == before
    finally:
        holder.kill()  # SIGKILL, stopped or not
        holder.communicate()
    assert holder.returncode == -signal.SIGKILL
    # the kernel dropped the flock with the process: the next run takes the lock over
    taken = copy.exams("ingest")
    assert f"taking over the lock left by run {record['run_id']} (exams run" in taken.stderr
    assert "its process is gone)" in taken.stderr
    assert copy.record() == {}  # a standalone stage gives the lock up when done
    # nothing was published by the killed run: the publication is the one copied
    assert copy.exams("run").returncode == 0
    assert publication_run(copy.warehouse) == before_run


def test_an_orchestrated_run_keeps_the_lock_between_its_stages(copy: PublicationCopy) -> None:
    copy.exams("ingest", EXAMS_RUN_ID="dag-X")
    record = copy.record()
    assert record["run_id"] == "dag-X" and record["pid"] is None
    assert record["stage"] == "after ingest" and record["lease_until"]
    before = copy.files()
    for args, env in [(("run",), {}), (("ingest",), {}), (("publish",), {}),
                      (("extracts",), {"EXAMS_RUN_ID": "dag-Y"})]:  # fmt: skip
        proc = copy.exams(*args, check=False, **env)
        _refused(proc, "dag-X")
        assert f"is between two of its stages (it keeps the lock until {record['lease_until']})" \
            in proc.stderr  # fmt: skip
    # another run's id releases nothing
    proc = copy.exams("release-lock", "--run-id", "dag-Y")
    assert "run lock of dag-Y not held by it" in proc.stderr
    assert copy.files() == before
    # the same run continues
    proc = copy.exams("extracts", EXAMS_RUN_ID="dag-X")
    assert "taking over" not in proc.stderr and "3 session(s) verified" in proc.stderr
    assert copy.record()["run_id"] == "dag-X" and copy.record()["stage"] == "after extracts"
    # its last task releases it
    proc = copy.exams("release-lock", "--run-id", "dag-X")
    assert "run lock of dag-X released" in proc.stderr and copy.record() == {}
    proc = copy.exams("ingest")
    assert "taking over" not in proc.stderr
    publication_run(copy.warehouse)  # readable, whole, every file accounted for


def test_a_lease_that_is_over_is_taken_over(copy: PublicationCopy) -> None:
    copy.exams("ingest", EXAMS_RUN_ID="dag-X", EXAMS_LOCK_LEASE_MINUTES="0")
    assert copy.record()["run_id"] == "dag-X"
    proc = copy.exams("ingest")
    assert "taking over the lock left by run dag-X (dag, stage after ingest" in proc.stderr
    assert "its process is gone, its lease is over)" in proc.stderr
    assert copy.record() == {}


def test_a_stage_killed_mid_run_keeps_its_lease_until_it_is_over(copy: PublicationCopy) -> None:
    """An orchestrated stage killed (a worker lost, the DAG may retry it): its flock is gone
    with it, but the record it wrote keeps the run's lease — another run is refused while the
    lease lasts and takes the lock over once it is over; the same run goes on."""
    stage = start_exams("ingest", env={**copy.env, "EXAMS_RUN_ID": "dag-K",
                                       "EXAMS_FORCE_REBUILD": "1"})  # fmt: skip
    try:
        wait_for(lambda: copy.record().get("run_id") == "dag-K", stage, "the lock taken")
    finally:
        os.kill(stage.pid, signal.SIGKILL)
        stage.communicate()
    assert copy.record().get("lease_until") is not None
    refused = copy.exams("ingest", check=False)
    assert refused.returncode == RUN_IN_PROGRESS
    assert "run dag-K (dag, stage ingest" in refused.stderr
    assert copy.record()["run_id"] == "dag-K"
    # the same run goes on (the DAG's retry)
    copy.exams("ingest", EXAMS_RUN_ID="dag-K", EXAMS_FORCE_REBUILD="1")
    assert copy.record()["run_id"] == "dag-K"
    # the lease over (its time passed): the next run takes the lock over
    record = copy.record() | {"lease_until": "2000-01-01T00:00:00+00:00", "pid": None}
    copy.lock.write_text(json.dumps(record))
    proc = copy.exams("ingest")
    assert "taking over the lock left by run dag-K (dag, stage after ingest" in proc.stderr
    assert copy.record() == {}
