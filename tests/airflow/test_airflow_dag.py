"""The DAG file parses, and has the shape the platform relies on (no run here)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from exams import orchestration as orch

REPO_ROOT = Path(__file__).resolve().parents[2]
STAGES = list(orch.STAGE_NAMES)


@pytest.fixture
def dag(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("EXAMS_DAG_RETRIES", raising=False)  # production defaults
    monkeypatch.setenv("EXAMS_PSEUDONYM_KEY", "must-not-appear-in-the-dag")
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert bag.import_errors == {}
    assert orch.DAG_ID in bag.dags
    return bag.dags[orch.DAG_ID]


def test_schedule_and_run_policy(dag) -> None:
    assert dag.timetable.expression == "0 2 * * *"
    assert dag.timezone.name == "Europe/Paris"
    assert dag.start_date is not None
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.params["force_rebuild"] is False


def test_stages_run_in_sequence_between_taking_and_releasing_the_lock(dag) -> None:
    assert set(dag.task_ids) == {"acquire_lock", *STAGES, "release_lock"}
    chain = ["acquire_lock", *STAGES]
    for upstream, downstream in zip(chain, chain[1:], strict=False):
        assert dag.task_dict[downstream].upstream_task_ids == {upstream}
    acquire, release = dag.task_dict["acquire_lock"], dag.task_dict["release_lock"]
    assert release.upstream_task_ids == {STAGES[-1], "acquire_lock"}  # last stage; its setup
    assert acquire.is_setup and release.is_teardown
    assert "acquire-lock --run-id '{{ run_id }}'" in acquire.bash_command
    assert "release-lock --run-id '{{ run_id }}'" in release.bash_command
    # the extracts are verified every night, also when the rebuild stages were skipped
    assert dag.task_dict["extracts"].trigger_rule == "none_failed"


def test_each_stage_runs_the_transform_cli_as_one_run(dag) -> None:
    from exams import settings

    for stage in STAGES:
        task = dag.task_dict[stage]
        assert type(task).__name__ == "BashOperator"
        assert f"{settings.load().transform_bin / 'exams'} {stage}" in task.bash_command
        assert task.retries >= 1 and task.retry_exponential_backoff > 1
        assert task.execution_timeout is not None
        # nothing to do tonight: skipped; any other non-zero exit fails the task
        assert task.skip_on_exit_code == [orch.NOTHING_TO_DO]
        assert task.env["EXAMS_RUN_ID"] == "{{ run_id }}" and task.append_env
        assert "force_rebuild" in task.env["EXAMS_FORCE_REBUILD"]
        assert "must-not-appear-in-the-dag" not in json.dumps(task.env)


def test_assets(dag) -> None:
    assert [a.uri for a in dag.task_dict["publish"].outlets] == ["duckdb://warehouse/results"]
    assert dag.task_dict["extracts"].outlets


def test_ruff_airflow3_rules() -> None:
    ruff = REPO_ROOT / ".venv" / "transform" / "bin" / "ruff"
    ruff = str(ruff) if ruff.exists() else shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff not installed (make env-transform)")
    cmd = [ruff, "check", "--preview", "--select", "AIR3", str(REPO_ROOT / "dags")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
