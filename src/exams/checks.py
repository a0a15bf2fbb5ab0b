"""Data-quality gate: great-expectations suites (expectations/suites/*.yml) on the candidate
publication, before it is published.

A suite is a SQL query on the `<warehouse>.new` file and a list of great-expectations 1.x
expectations, each blocking or warning. The query runs in DuckDB (where the data is): aggregate
checks come back as a few rows, so only what an expectation reads is copied into pandas.
Every run appends one row per expectation to audit.dq_results and rebuilds the Data Docs site.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import yaml

from exams.progress import log
from exams.settings import EXPECTATIONS_DIR, Settings


@dataclass
class Outcome:
    suite: str
    expectation: str
    column_name: str | None
    success: bool
    unexpected_count: int
    blocking: bool
    sample: list


def load_suites(folder: Path | None = None) -> list[dict]:
    """The suites of expectations/suites/ (EXAMS_SUITES_DIR overrides, e.g. in tests)."""
    folder = folder or Path(os.environ.get("EXAMS_SUITES_DIR", EXPECTATIONS_DIR / "suites"))
    return [yaml.safe_load(p.read_text()) for p in sorted(folder.glob("*.yml"))]


def _kwargs(kwargs: dict, s: Settings) -> dict:
    params = {
        "mismatch_warn_share": s.mismatch_warn_share,
        "quarantine_warn_share": s.quarantine_warn_share,
        "volume_min_ratio": 1 - s.volume_warn_ratio,
        "volume_max_ratio": 1 + s.volume_warn_ratio,
    }
    unknown = [v for v in kwargs.values() if isinstance(v, str) and v.startswith("{")
               and v.endswith("}") and v[1:-1] not in params]  # fmt: skip
    if unknown:
        raise ValueError(f"unknown setting(s) in a suite: {unknown}")
    out = {}
    for k, v in kwargs.items():
        if isinstance(v, str) and v.startswith("{") and v.endswith("}") and v[1:-1] in params:
            v = params[v[1:-1]]
        out[k] = v
    return out


def validate(db: Path, s: Settings, suites: list[dict] | None = None) -> list[Outcome]:
    """Run every suite against `db` (read-only); returns one outcome per expectation."""
    os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars in the run log
    import great_expectations as gx  # ~8 s import: once per run

    suites = suites if suites is not None else load_suites()
    root = s.work_dir / "gx"
    shutil.rmtree(root, ignore_errors=True)
    ctx = gx.get_context(mode="file", project_root_dir=str(root))
    source = ctx.data_sources.add_pandas("exams")
    con = duckdb.connect(str(db), read_only=True)
    outcomes: list[Outcome] = []
    try:
        for spec in suites:
            name = spec["name"]
            df = con.execute(spec["query"]).df()
            batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
            expectations = [
                getattr(gx.expectations, e["type"])(**_kwargs(e["kwargs"], s))
                for e in spec["expectations"]
            ]
            suite = ctx.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
            vd = ctx.validation_definitions.add(
                gx.ValidationDefinition(name=name, data=batch, suite=suite)
            )
            checkpoint = ctx.checkpoints.add(
                gx.Checkpoint(name=f"{name}_checkpoint", validation_definitions=[vd])
            )
            result = checkpoint.run(batch_parameters={"dataframe": df})
            run = next(iter(result.run_results.values()))
            for e, r in zip(spec["expectations"], run.results, strict=True):
                res = r.result or {}
                outcomes.append(Outcome(
                    suite=name,
                    expectation=e["type"],
                    column_name=e["kwargs"].get("column")
                    or ",".join(str(e["kwargs"][k]) for k in ("column_A", "column_B")
                                if k in e["kwargs"]) or None,
                    success=bool(r.success),
                    unexpected_count=int(res.get("unexpected_count") or (0 if r.success else 1)),
                    blocking=bool(e.get("blocking", True)),
                    sample=list(res.get("partial_unexpected_list") or [])[:5],
                ))  # fmt: skip
        ctx.build_data_docs()
    finally:
        con.close()
    return outcomes


def record(dbs: list[Path], outcomes: list[Outcome]) -> str:
    """One row per expectation into audit.dq_results of each database: the candidate
    publication, and the private build database that keeps the history of every run
    (failed ones included; the next publication carries it)."""
    from exams.pipeline import DQ_RESULTS_DDL

    run_id = f"{datetime.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    run_at = datetime.now()
    rows = [
        (run_id, run_at, o.suite, o.expectation, o.column_name, o.success,
         o.unexpected_count, o.blocking)
        for o in outcomes
    ]  # fmt: skip
    for db in dbs:
        con = duckdb.connect(str(db))
        con.execute("CREATE SCHEMA IF NOT EXISTS audit")
        con.execute(DQ_RESULTS_DDL)
        con.executemany("INSERT INTO audit.dq_results VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        con.close()
    return run_id


def run(s: Settings) -> None:
    from exams.pipeline import StageFailed

    outcomes = validate(s.new_db, s)
    from exams.pipeline import dq_history_db

    run_id = record([s.new_db, dq_history_db(s)], outcomes)
    docs = s.work_dir / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site"
    if docs.exists():
        target = s.publish_dir / "data_docs"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(docs, target)
    failed = [o for o in outcomes if not o.success]
    for o in failed:
        level = "BLOCKING" if o.blocking else "warning"
        log(f"check {level}: {o.suite}.{o.expectation}({o.column_name}) — "
            f"{o.unexpected_count} unexpected, e.g. {o.sample}")  # fmt: skip
    log(f"check: {len(outcomes)} expectation(s), {len(failed)} failed (run {run_id})")
    blocking = [o for o in failed if o.blocking]
    if blocking:
        s.new_db.unlink(missing_ok=True)
        raise StageFailed(
            "blocking data-quality check(s) failed, nothing published:\n  "
            + "\n  ".join(
                f"{o.suite}: {o.expectation}({o.column_name}) — {o.unexpected_count} "
                f"unexpected, e.g. {o.sample}"
                for o in blocking
            )
        )
