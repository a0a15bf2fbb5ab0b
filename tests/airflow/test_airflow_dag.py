"""The DAG file parses, and has the shape the platform relies on (no run here)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from exams import orchestration as orch

REPO_ROOT = Path(__file__).resolve().parents[2]
STAGES = ["ingest", "transform", "check", "publish", "extracts"]


@pytest.fixture
def dag(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("EXAMS_DAG_RETRIES", raising=False)  # production defaults
    monkeypatch.setenv("EXAMS_PSEUDONYM_KEY", "must-not-appear-in-the-dag")
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert bag.import_errors == {}
    assert "ndrc_nightly" in bag.dags
    return bag.dags["ndrc_nightly"]


def test_schedule_and_run_policy(dag) -> None:
    assert dag.timetable.expression == "0 2 * * *"
    assert dag.timezone.name == "Europe/Paris"
    assert dag.start_date is not None
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert "session" in dag.params


def test_stages_run_in_sequence_behind_the_change_gate(dag) -> None:
    assert set(dag.task_ids) == {*STAGES, "data_changed"}
    chain = ["ingest", "data_changed", *STAGES[1:]]
    for upstream, downstream in zip(chain, chain[1:], strict=False):
        assert dag.task_dict[downstream].upstream_task_ids == {upstream}
    assert type(dag.task_dict["data_changed"]).__name__ == "_ShortCircuitDecoratedOperator"


def test_each_stage_runs_the_transform_cli_with_retries_and_timeout(dag) -> None:
    for stage in STAGES:
        task = dag.task_dict[stage]
        assert type(task).__name__ == "BashOperator"
        assert f"{orch.transform_bin() / 'exams'} {stage}" in task.bash_command
        assert task.retries >= 1 and task.retry_exponential_backoff > 1
        assert task.execution_timeout is not None
        assert task.skip_on_exit_code == []  # any non-zero exit fails the task
        assert "EXAMS_SESSION" in task.env and task.append_env
        assert "must-not-appear-in-the-dag" not in json.dumps(task.env)


def test_assets(dag) -> None:
    assert [a.uri for a in dag.task_dict["publish"].outlets] == ["duckdb://warehouse/results"]
    assert dag.task_dict["extracts"].outlets


@pytest.mark.parametrize(
    ("report", "exists", "session", "expected"),
    [
        ('{"changed": false, "files": 3}', True, None, False),
        ('progress…\n{"changed": false}', True, None, False),
        ('{"changed": true}', True, None, True),
        ('{"changed": false}', False, None, True),  # nothing published yet
        ('{"changed": false}', True, "2025", True),  # rebuild on demand
        ("not json", True, None, True),
        (None, True, None, True),
    ],
)
def test_gate(tmp_path, monkeypatch, report, exists, session, expected) -> None:
    warehouse = tmp_path / "results.duckdb"
    if exists:
        warehouse.write_bytes(b"")
    monkeypatch.setenv("EXAMS_WAREHOUSE", str(warehouse))
    assert orch.should_rebuild(report, session) is expected


def test_ruff_airflow3_rules() -> None:
    ruff = REPO_ROOT / ".venv" / "transform" / "bin" / "ruff"
    ruff = str(ruff) if ruff.exists() else shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff not installed (make env-transform)")
    cmd = [ruff, "check", "--preview", "--select", "AIR3", str(REPO_ROOT / "dags")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
