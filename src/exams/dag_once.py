"""Run the nightly Airflow DAG once, now, in this process (`dag.test()`), and report:
`exams pipeline [--force] [--verbose]` with the Airflow environment's `exams` (`make pipeline`).

Airflow runs from a local home (AIRFLOW_HOME, default `<warehouse folder>/../airflow`, i.e.
`data/airflow`) with SQLite metadata, migrated when needed. Every task runs the transform
environment's `exams <stage>` exactly as in production. Task retries default to 0 here
(EXAMS_DAG_RETRIES) so that a failure ends the run at once instead of waiting for back-off.

Airflow's own output goes to `<AIRFLOW_HOME>/logs/run_once/<time>.log` (or the terminal with
--verbose); the terminal gets a short report: each task's state and duration, and the failed
task's output. Exit status 0 if the run succeeded (also when it skipped the rebuild because nothing
changed), 1 otherwise.

Why `dag.test()` rather than `airflow dags test`: both run the same code path and, in 3.3.2,
both report failure (the CLI exits 1 with "DagRun failed"); `dag.test()` hands back the run
object, so the per-task report needs no parsing of log text.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from exams import orchestration, settings
from exams.errors import ConfigError

ROOT = settings.REPO_ROOT
DAG_ID = orchestration.DAG_ID
TAIL_LINES = 30
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_HOOK_NOISE = ("Running command:", "Tmp dir root location:", "] Output:")


def configure_environment() -> Path:
    """Set Airflow's configuration before airflow is imported; return AIRFLOW_HOME."""
    warehouse = settings.load().warehouse
    home = Path(os.environ.get("AIRFLOW_HOME") or warehouse.parent.parent / "airflow").resolve()
    home.mkdir(parents=True, exist_ok=True)
    defaults = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PARALLELISM": "4",
        "EXAMS_DAG_RETRIES": "0",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    return home


@contextmanager
def output_to(log_file: Path | None):
    """Send this process's stdout/stderr (file descriptors, so subprocesses too) to log_file."""
    if log_file is None:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log_file.open("ab") as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def migrate_if_needed() -> None:
    """`airflow db migrate` unless the metadata DB is already at the code's migration head."""
    from airflow.utils.db import check_migrations

    try:
        check_migrations(timeout=1)
        return
    except Exception:  # noqa: BLE001 - no tables yet, or an older schema: migrate
        pass
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True)


def task_output(log_text: str, task_id: str) -> str:
    """The last lines a task wrote (its command's output, else its log lines), from the log."""
    lines = _ANSI.sub("", log_text).splitlines()
    start = f"[DAG TEST] starting task_id={task_id} "
    starts = [i for i, line in enumerate(lines) if start in line]
    if not starts:
        return ""
    section = lines[starts[-1] :]
    end = next(
        (i for i, line in enumerate(section) if f"end task task_id={task_id} " in line), None
    )
    section = section[:end]
    output = [
        re.sub(r"^\S+ \[\w+\s*\] ", "", line).split(" [airflow.task.hooks.")[0].rstrip()
        for line in section
        if "SubprocessHook] " in line and not any(n in line for n in _HOOK_NOISE)
    ]
    failure = [line for line in section if "Exception: " in line or "Error: " in line]
    return "\n".join((output or section)[-TAIL_LINES:] + failure[-1:])


def run_once(force: bool = False, verbose: bool = False) -> int:
    """Exit status 0 if the run succeeded, 1 otherwise."""
    import importlib.util

    if importlib.util.find_spec("airflow") is None:  # not imported: configured below first
        raise ConfigError("`exams pipeline` runs with the Airflow environment's `exams` "
                          "(.venv/airflow/bin/exams; make pipeline)")

    home = configure_environment()
    log_file = None
    if not verbose:
        log_file = home / "logs" / "run_once" / f"{datetime.now():%Y%m%dT%H%M%S}.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        print(f"{DAG_ID}: running once (Airflow log: {log_file})", flush=True)
    started = time.monotonic()

    with output_to(log_file):
        migrate_if_needed()
        from airflow.dag_processing.dagbag import DagBag
        from airflow.sdk import DagRunState

        bag = DagBag(dag_folder=str(ROOT / "dags"))
        dag = bag.dags.get(DAG_ID)
        run = None
        if dag is not None and not bag.import_errors:
            conf = {"force_rebuild": True} if force else None
            run = dag.test(logical_date=datetime.now(UTC), run_conf=conf)
            order = {t.task_id: i for i, t in enumerate(dag.topological_sort())}
            tis = sorted(run.get_task_instances(), key=lambda ti: order.get(ti.task_id, 99))

    if run is None:
        for path, error in bag.import_errors.items():
            print(f"import error in {path}:\n{error}", file=sys.stderr)
        print(f"{DAG_ID}: DAG not loaded from {ROOT / 'dags'}", file=sys.stderr)
        return 1

    print(f"{DAG_ID} {run.run_id}: {run.state} in {time.monotonic() - started:.1f}s")
    for ti in tis:
        duration = f"{ti.duration:6.1f}s" if ti.duration is not None else "      -"
        print(f"  {ti.task_id:<14} {duration}  {ti.state}")
    log_text = log_file.read_text(errors="replace") if log_file else ""
    for ti in tis:
        if ti.state == "failed" and log_text:
            print(
                f"--- {ti.task_id} failed; its last output ---\n{task_output(log_text, ti.task_id)}"
            )
    ok = run.state == DagRunState.SUCCESS
    print(f"result: {'SUCCESS' if ok else 'FAILED'}")
    return 0 if ok else 1
