"""The nightly run's stages — ingest → transform → check → publish → extracts — under the run
lock (lock.py), one run at a time.

Write, audit, publish: `transform` builds the candidate publication `<warehouse>.new`, `check`
validates it and records the file it approved, `publish` moves exactly that file onto the
served path (publication.py), `extracts` writes or verifies the ministry extracts of the
publication. Whether a night rebuilds is decided once, after ingest (publication.plan): when
nothing changed, transform, check and publish have nothing to do (NothingToDo) and extracts
still verifies the extracts.

A stage runs either inside `exams run` (one process, one run id, the lock held throughout) or
as its own process (the DAG's tasks: EXAMS_RUN_ID names the run, which keeps the lock between
its stages; by hand without it: a run of its own).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from exams import lock, publication
from exams.errors import ExamsError, NothingToDo
from exams.settings import Settings

log = logging.getLogger(__name__)


def _rebuild_planned(s: Settings, stage: str) -> publication.Plan:
    """The plan of this run's ingest; a stage by hand may force it (EXAMS_FORCE_REBUILD)."""
    plan = publication.read_plan(s)
    if not plan.rebuild and not s.force_rebuild:
        raise NothingToDo(f"{stage}: {plan.why}; nothing to do")
    return plan


def ingest(s: Settings, run_id: str) -> None:
    from exams.ingest import run as ingest_run

    key = s.pseudonym_key()
    report = ingest_run.run(s, key)
    plan = publication.plan(s, run_id, report.manifest_fingerprint, key)
    log.info(
        "ingest: %d file(s), %d loaded, %d rejected, %d row(s), %d quarantined; %s",
        report.files, report.loaded, report.rejected, report.rows_total,
        report.rows_quarantined,
        f"rebuild: {plan.why}" if plan.rebuild else f"no rebuild: {plan.why}",
    )  # fmt: skip


def transform(s: Settings, run_id: str) -> None:
    from exams import transform as transform_mod

    publication.forget_checked(s)
    try:
        _rebuild_planned(s, "transform")
    except NothingToDo:
        # (trust tests) what a killed run left — its candidate file, write-ahead log or
        # `.publishing` file, and its approval — is removed on a night with nothing to rebuild
        # too: it was left in the served folder until the next rebuild
        transform_mod.remove_candidate(s)
        raise
    transform_mod.run(s)


def check(s: Settings, run_id: str) -> None:
    from exams import checks

    _rebuild_planned(s, "check")
    if not s.new_db.exists():
        raise ExamsError(f"{s.new_db} is missing: run the transform stage first")
    checks.run(s, run_id)
    publication.record_checked(s, run_id)


def publish(s: Settings, run_id: str) -> None:
    from exams import checks
    from exams import transform as transform_mod

    plan = _rebuild_planned(s, "publish")
    s.warehouse.parent.mkdir(parents=True, exist_ok=True)
    publication.publish(s, run_id, plan)
    log.info("publish: dbt docs in %s, Data Docs in %s", transform_mod.publish_docs(s),
             checks.publish_data_docs(s))  # fmt: skip


def extracts(s: Settings, run_id: str) -> None:
    from exams import extracts as extracts_mod

    extracts_mod.run(s)


# the functions of the stages orchestration.STAGES names, in that order
STAGES: dict[str, Callable[[Settings, str], None]] = {
    "ingest": ingest,
    "transform": transform,
    "check": check,
    "publish": publish,
    "extracts": extracts,
}


def run_stage(name: str, s: Settings) -> None:
    """One stage as its own process: under the lock of its run (EXAMS_RUN_ID), which keeps it
    until the next stage; by hand without a run id, a run of its own."""
    orchestrated = bool(s.run_id)
    run_id = s.run_id or lock.new_run_id(name)
    run_lock = lock.RunLock(s, run_id, "dag" if orchestrated else "stage", name, orchestrated)
    run_lock.acquire()
    try:
        STAGES[name](s, run_id)
    finally:
        run_lock.release(keep_for_next_stage=orchestrated)


def run_all(s: Settings) -> None:
    """Every stage in order in this process (`exams run`), the lock held throughout."""
    run_id = s.run_id or lock.new_run_id("run")
    run_lock = lock.RunLock(s, run_id, "exams run", "ingest")
    run_lock.acquire()
    try:
        for stage in STAGES.values():
            try:
                stage(s, run_id)
            except NothingToDo as e:
                log.info("%s", e)
    finally:
        run_lock.release(keep_for_next_stage=False)
