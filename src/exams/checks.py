"""Data-quality gate: great-expectations suites (expectations/suites/*.yml) on the candidate
publication, before it is published.

A suite is a SQL query on the `<warehouse>.new` file and a list of great-expectations 1.x
expectations, each blocking or warning. The query runs in DuckDB (where the data is): aggregate
checks come back as a few rows, so only what an expectation reads is copied into pandas.
Every run appends one row per expectation to audit.dq_results and rebuilds the Data Docs site.
great-expectations runs in an ephemeral context (nothing but the Data Docs written to disk).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import sys
import types
import uuid
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import yaml

from exams.errors import StageFailed
from exams.progress import log
from exams.settings import Settings

DQ_RESULTS_DDL = """
CREATE TABLE IF NOT EXISTS audit.dq_results (
    run_id VARCHAR, run_at TIMESTAMP, suite VARCHAR, expectation VARCHAR, column_name VARCHAR,
    success BOOLEAN, unexpected_count BIGINT, blocking BOOLEAN
)"""


def history_db(s: Settings) -> Path:
    """Private history of data-quality results (a separate file: the check stage may run in
    the same process as dbt, which holds the build database open)."""
    return s.build_db.with_name(s.build_db.stem + ".dq.duckdb")


DOCS_SITE = Path("gx", "uncommitted", "data_docs", "local_site")  # under <work_dir>/gx


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
    from exams import settings

    folder = folder or settings.load().suites_dir
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


@contextmanager
def _deferred_imports(*names: str) -> Generator[None, None, None]:
    """While great_expectations is imported, stand-ins for modules it imports at start-up but
    uses only inside expectations the suites do not use (scipy.stats: KL divergence and KS
    tests, altair: their charts), ~3 s of the import. A stand-in imports the real module on
    first attribute access, so such an expectation still works; once the import is done,
    `sys.modules` is left as if the modules had never been imported."""
    installed = {}
    for name in names:
        if name in sys.modules:
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is not None:
            module = _Deferred(name)
            module.__spec__ = spec
            installed[name] = sys.modules[name] = module
    try:
        yield
    finally:
        for name, module in installed.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]


class _Deferred(types.ModuleType):
    def __getattr__(self, attr: str) -> object:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attr)


def _import_gx() -> types.ModuleType:
    os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars in the run log
    if "great_expectations" in sys.modules:
        return sys.modules["great_expectations"]
    with _deferred_imports("scipy.stats", "altair"):
        import great_expectations as gx  # still the bulk of the stage's time
    return gx


def _context(gx: types.ModuleType, root: Path) -> Any:
    """An ephemeral context (suites, checkpoints and results in memory: a file context writes
    and re-reads its YAML and JSON stores at every step) whose Data Docs site is the one a file
    context at `root` has: same folder, same custom styles, a data context id."""
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
    )

    plugins = root / "gx" / "plugins"
    styles = plugins / "custom_data_docs" / "styles"
    styles.mkdir(parents=True)
    shutil.copyfile(
        Path(gx.__file__).parent / "render/view/static/styles/data_docs_custom_styles_template.css",
        styles / "data_docs_custom_styles.css",
    )
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        plugins_directory=str(plugins),
        data_context_id=uuid.uuid4(),
        data_docs_sites={
            "local_site": {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": True,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(root / DOCS_SITE),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def validate(db: Path, s: Settings, suites: list[dict] | None = None) -> list[Outcome]:
    """Run every suite against `db` (read-only); returns one outcome per expectation."""
    gx = _import_gx()  # once per run

    suites = suites if suites is not None else load_suites()
    root = s.work_dir / "gx"
    shutil.rmtree(root, ignore_errors=True)
    ctx = _context(gx, root)
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
            # GX returns results in its own order: each is matched to its expectation by id
            by_id = {
                str(x.id): e for e, x in zip(spec["expectations"], suite.expectations, strict=True)
            }
            assert len(by_id) == len(run.results)
            for r in run.results:
                e = by_id[str(r.expectation_config.id)]
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


def record(dbs: list[Path], outcomes: list[Outcome], run_id: str) -> str:
    """One row per expectation into audit.dq_results of each database: the candidate
    publication, and the private build database that keeps the history of every run
    (failed ones included; the next publication carries it)."""
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


def run(s: Settings, run_id: str) -> None:
    outcomes = validate(s.new_db, s)
    record([s.new_db, history_db(s)], outcomes, run_id)
    docs = s.work_dir / "gx" / DOCS_SITE
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
