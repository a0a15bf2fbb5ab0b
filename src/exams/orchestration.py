"""What the Airflow DAG needs to know about the pipeline, kept out of the DAG file: its id and
schedule, the stages in order (the one list of stage names), and how a task runs a stage.

Standard library only: imported by `dags/ndrc_nightly.py` in the Airflow environment, which runs
each stage as a command of the transform environment (`<transform bin>/exams <stage>`); it never
imports dbt or great-expectations.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import timedelta

from exams import settings
from exams.errors import NothingToDo

DAG_ID = "ndrc_nightly"
SCHEDULE = "0 2 * * *"  # nightly at 02:00, in TIMEZONE
TIMEZONE = "Europe/Paris"
NOTHING_TO_DO = NothingToDo.exit_code  # a stage with nothing to do tonight: the task is skipped


@dataclass(frozen=True)
class Stage:
    name: str
    timeout: timedelta
    help: str


# In order; each stage writes a DuckDB file, so they run strictly one after the other.
STAGES: tuple[Stage, ...] = (
    Stage("ingest", timedelta(minutes=30),
          "Read the raw folder into the private build database (manifest, quarantine)."),
    Stage("transform", timedelta(minutes=60),
          "dbt build into the candidate publication file (<warehouse>.new)."),
    Stage("check", timedelta(minutes=30),
          "great-expectations checkpoint on the candidate publication file."),
    Stage("publish", timedelta(minutes=10),
          "Move the file the checks approved onto the served path (atomic)."),
    Stage("extracts", timedelta(minutes=30),
          "Write or verify the ministry extracts of the publication."),
)  # fmt: skip
STAGE_NAMES: tuple[str, ...] = tuple(s.name for s in STAGES)

# Names of variables that the stage process inherits but that are never copied into the task's
# (rendered, stored, displayed) `env` field.
_SECRET_MARKERS = ("KEY", "SECRET", "PASSWORD", "TOKEN")


def retry_policy() -> dict[str, object]:
    """Retries with exponential back-off; EXAMS_DAG_RETRIES=0 for one-shot local runs."""
    return {
        "retries": settings.load().dag_retries,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=30),
    }


def command(*args: str) -> str:
    """Bash command running `exams <args>` from the transform environment."""
    exe = shlex.quote(str(settings.load().transform_bin / "exams"))
    return "\n".join([
        "set -u",
        "unset PYTHONPATH PYTHONHOME VIRTUAL_ENV",
        f"[ -x {exe} ] || {{ echo 'exams CLI not found at '{exe}'; run: make env-transform'"
        " >&2; exit 2; }",
        f"exec {exe} {' '.join(shlex.quote(a) for a in args)}",
    ])  # fmt: skip


def stage_command(stage: str) -> str:
    if stage not in STAGE_NAMES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGE_NAMES)}")
    return command(stage)


def stage_env() -> dict[str, str]:
    """Variables set on each stage task: every EXAMS_* setting in force (paths resolved) except
    secrets (EXAMS_PSEUDONYM_KEY…), which the stage inherits from the worker's environment
    instead, so that they never land in Airflow's stored and displayed rendered templates."""
    env = {
        name: value
        for name, value, _ in settings.describe(settings.load())
        if not any(m in name for m in _SECRET_MARKERS) and value not in ("", "None")
    }
    env.pop("EXAMS_RUN_ID", None)  # set per run by the DAG
    env.pop("EXAMS_FORCE_REBUILD", None)
    return env
