"""What the Airflow DAG needs to know about the pipeline, kept out of the DAG file.

Stdlib only: imported by `dags/ndrc_nightly.py` in the Airflow environment, which runs each stage
as a command of the transform environment (`<transform bin>/exams <stage>`); it never imports
dbt or great-expectations.
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from exams import settings

REPO_ROOT: Path = settings.REPO_ROOT
DAG_ID = "ndrc_nightly"
SCHEDULE = "0 2 * * *"  # nightly at 02:00, in TIMEZONE
TIMEZONE = "Europe/Paris"


@dataclass(frozen=True)
class Stage:
    name: str
    timeout: timedelta


# In order; each stage is one writer of the DuckDB files, so they run strictly in sequence.
STAGES: tuple[Stage, ...] = (
    Stage("ingest", timedelta(minutes=30)),
    Stage("transform", timedelta(minutes=60)),
    Stage("check", timedelta(minutes=30)),
    Stage("publish", timedelta(minutes=10)),
    Stage("extracts", timedelta(minutes=30)),
)
STAGE_NAMES: tuple[str, ...] = tuple(s.name for s in STAGES)

# Names of variables that are inherited by the stage process but never copied into the task's
# (rendered, stored, displayed) `env` field.
_SECRET_MARKERS = ("KEY", "SECRET", "PASSWORD", "TOKEN")


def transform_bin() -> Path:
    """Folder holding the transform environment's `exams` CLI (EXAMS_TRANSFORM_BIN overrides)."""
    return Path(os.environ.get("EXAMS_TRANSFORM_BIN") or REPO_ROOT / ".venv" / "transform" / "bin")


def retry_policy() -> dict[str, object]:
    """Retries with exponential back-off; EXAMS_DAG_RETRIES=0 for one-shot local runs."""
    return {
        "retries": int(os.environ.get("EXAMS_DAG_RETRIES", "2")),
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=30),
    }


def stage_command(stage: str) -> str:
    """Bash command running one stage through the transform environment.

    stderr streams to the task log as it comes; for `ingest`, stdout is printed after the
    process ends so that its last line (the JSON status) is the task's XCom.
    """
    if stage not in STAGE_NAMES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGE_NAMES)}")
    exe = shlex.quote(str(transform_bin() / "exams"))
    run = (
        f'out="$({exe} {stage})" && rc=0 || rc=$?; [ -z "$out" ] || printf "%s\\n" "$out"; exit "$rc"'
        if stage == "ingest"
        else f"exec {exe} {stage}"
    )
    return "\n".join(
        [
            "set -u",
            "unset PYTHONPATH PYTHONHOME VIRTUAL_ENV",
            '[ -n "${EXAMS_SESSION:-}" ] || unset EXAMS_SESSION',
            f"[ -x {exe} ] || {{ echo 'exams CLI not found at '{exe}'; run: make env-transform'"
            " >&2; exit 2; }",
            run,
        ]
    )


def stage_env() -> dict[str, str]:
    """Variables set on each stage task: the resolved data paths and every other EXAMS_* setting
    except secrets (EXAMS_PSEUDONYM_KEY…), which the stage inherits from the worker's environment
    instead, so that they never land in Airflow's stored and displayed rendered templates."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k.startswith("EXAMS_") and not any(m in k for m in _SECRET_MARKERS)
    }
    s = settings.load()
    env.update(
        EXAMS_RAW_DIR=str(s.raw_dir),
        EXAMS_WAREHOUSE=str(s.warehouse),
        EXAMS_EXTRACTS_DIR=str(s.extracts_dir),
    )
    return env


def warehouse_path() -> Path:
    return settings.load().warehouse


def should_rebuild(ingest_output: str | None, session: str | None = None) -> bool:
    """After ingest: go on with transform → … → extracts, or stop for tonight?

    Stop only when ingest reported {"changed": false} and a published warehouse exists. A
    requested session, a missing warehouse or an unreadable ingest report all mean: rebuild.
    """
    if session or not warehouse_path().exists():
        return True
    try:
        report = json.loads((ingest_output or "").strip().splitlines()[-1])
    except (IndexError, ValueError):
        return True
    return not (isinstance(report, dict) and report.get("changed") is False)
