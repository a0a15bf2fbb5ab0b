"""`exams` — the one command line of the platform (typer).

    exams ingest|transform|check|publish|extracts   one stage of the nightly run (the DAG's tasks)
    exams run [--force]                             every stage in order, without Airflow
    exams check-export FILE...                      what a rectorat runs before delivering a file
    exams generate --out DIR [...]                  synthetic exports (seeded)
    exams settings                                  every setting and the value in force
    exams superset setup|build|serve|analyst|render Superset provisioning (Superset environment)

Errors the platform expects (a bad setting, a run already in progress, a failed stage, a full or
read-only disk) end with one line on stderr and a non-zero exit status; see `exams.errors`.
"""

from __future__ import annotations

import errno
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from exams import errors, logs, orchestration, settings

app = typer.Typer(
    name="exams",
    help="Results analytics for French national exams (BTS NDRC).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
log = logging.getLogger("exams.cli")


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    logs.setup(verbose)


def _stage_command(stage: orchestration.Stage) -> None:
    def command() -> None:
        from exams import pipeline

        pipeline.run_stage(stage.name, settings.load())

    command.__name__ = stage.name
    app.command(name=stage.name, help=stage.help)(command)


for _stage in orchestration.STAGES:
    _stage_command(_stage)


@app.command()
def run(
    force: Annotated[
        bool, typer.Option("--force", help="rebuild and republish even if nothing changed")
    ] = False,
) -> None:
    """Every stage in order, without Airflow (one run, under the run lock)."""
    from exams import pipeline

    pipeline.run_all(settings.load(**({"force_rebuild": True} if force else {})))


@app.command("acquire-lock", hidden=True)
def acquire_lock(run_id: Annotated[str, typer.Option(help="the run taking the lock")]) -> None:
    """Take the run lock for run RUN_ID and keep it for its stages (the DAG's first task)."""
    from exams import lock

    lock.acquire_run(settings.load(), run_id)
    log.info("run lock taken for %s", run_id)


@app.command("release-lock", hidden=True)
def release_lock(run_id: Annotated[str, typer.Option(help="the run whose lock to release")]) -> None:
    """Release the run lock that run RUN_ID keeps between its stages (the DAG's last task)."""
    from exams import lock

    released = lock.release_run(settings.load(), run_id)
    log.info("run lock of %s %s", run_id, "released" if released else "not held by it")


@app.command("pipeline")
def pipeline_once(
    force: Annotated[
        bool, typer.Option("--force", help="rebuild and republish even if nothing changed")
    ] = False,
    airflow_log: Annotated[
        bool, typer.Option("--airflow-log", help="Airflow's own log to the terminal")
    ] = False,
) -> None:
    """The nightly run once through the Airflow DAG (Airflow environment; make pipeline)."""
    from exams.dag_once import run_once

    raise typer.Exit(run_once(force, airflow_log))


@app.command("check-export")
def check_export(
    files: Annotated[list[Path], typer.Argument(help="export files to check")],
) -> None:
    """Check export files before delivery: each problem with its line, rule and what to do."""
    from exams.ingest.check_export import check_files

    raise typer.Exit(check_files(files))


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="folder to write the exports into")],
    sample: Annotated[bool, typer.Option(help="the committed sample's settings")] = False,
    sessions: Annotated[str, typer.Option(help="comma list of sessions")] = "2021,2023,2025",
    academies: Annotated[str, typer.Option(help="comma list of codes, or 'all'")] = "10,24,70",
    candidates: Annotated[int, typer.Option(help="candidates per file (±20 %)")] = 190,
    seed: Annotated[int, typer.Option(help="random seed")] = 20250704,
    mismatch: Annotated[float, typer.Option(help="share of wrong jury decisions")] = 0.0,
    no_extras: Annotated[
        bool, typer.Option("--no-extras", help="no correction, duplicate or faulty file")
    ] = False,
) -> None:
    """Write synthetic exports (seeded, every dialect of the format)."""
    from exams import reference
    from exams.generator import GeneratorConfig, sample_config
    from exams.generator import generate as write

    if sample:
        cfg = sample_config()
    else:
        session_list = [int(x) for x in sessions.split(",")]
        cfg = GeneratorConfig(
            sessions=session_list,
            academies=(
                reference.academies_for(max(session_list))
                if academies == "all"
                else academies.split(",")
            ),
            candidates_per_file=candidates,
            seed=seed,
            extras=not no_extras,
            jury_mismatch_share=mismatch,
        )
    paths = write(out, cfg)
    log.info("wrote %d export(s) into %s", len(paths), out)


@app.command("settings")
def show_settings() -> None:
    """Every setting (environment variable), the value in force and its meaning."""
    from rich.console import Console
    from rich.table import Table

    table = Table("variable", "value", "meaning")
    for row in settings.describe(settings.load()):
        table.add_row(*row)
    Console().print(table)


def _add_superset() -> None:
    from exams.superset_app.cli import app as superset_app

    app.add_typer(superset_app, name="superset", help="Superset provisioning (Superset env).")


_add_superset()


DISK_HINTS = {
    errno.ENOSPC: "free some space and run again",
    errno.EROFS: "the folder is read-only: point the setting at a writable folder",
    errno.EACCES: "check the folder's permissions",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EFBIG: "a file outgrew the size allowed (ulimit -f, or the filesystem's limit)",
}


def _os_error_line(e: OSError) -> str:
    where = f" ({e.filename})" if e.filename else ""
    hint = DISK_HINTS.get(e.errno or 0, "")
    return f"{e.strerror or e}{where}" + (f": {hint}" if hint else "")


def _duckdb_disk_error_line(e: Exception) -> str | None:
    """A DuckDB failure to write its file (a full or read-only disk): DuckDB raises its own
    exceptions, not OSError, with the system's words in the message. Its first line and what
    to do; None for any other error. (trust tests: these ended in a traceback.)"""
    duckdb = sys.modules.get("duckdb")
    if duckdb is None or not isinstance(e, duckdb.Error):
        return None
    line = (str(e).strip().splitlines() or [""])[0]
    for code, hint in DISK_HINTS.items():
        if os.strerror(code) in line:
            return f"{line}: {hint}"
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the app; expected errors become one line on stderr and their exit status."""
    try:
        app(args=argv, prog_name="exams")  # click shows usage errors and exits itself
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except errors.NothingToDo as e:
        print(f"exams: {e}", file=sys.stderr)
        return e.exit_code
    except errors.ExamsError as e:
        print(f"exams: error: {e}", file=sys.stderr)
        return e.exit_code
    except OSError as e:
        print(f"exams: error: {_os_error_line(e)}", file=sys.stderr)
        return 74  # EX_IOERR
    except KeyboardInterrupt:
        print("exams: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # DuckDB's own errors on a full or read-only disk
        disk = _duckdb_disk_error_line(e)
        if disk:
            print(f"exams: error: {disk}", file=sys.stderr)
            return 74  # EX_IOERR, as an OSError
        raise
    return 0


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    entry()
