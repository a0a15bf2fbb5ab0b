"""Data-quality gate: the great-expectations suites of `expectations/suites/*.yml` on the candidate
publication `<warehouse>.new`, before it is published.

A suite is a SQL query on the publication file, the suite parameters it reads from that file's
`reference.*` tables (vocabularies), and a list of great-expectations 1.x expectations, each
blocking (GX severity `critical`: a failure stops the publication) or not (`warning`: published,
and reported).
expectations/README.md describes the format.

One run is GX's documented path, once:
- each suite's query runs in DuckDB (read-only; where the data is, so aggregate checks come back as
  a few rows) and its result is written to a Parquet file in a run-private folder of the work
  directory; a pandas filesystem data source has one Parquet asset and batch definition per suite;
- ONE checkpoint whose validation definitions are the suites, run with the suite parameters
  (every numeric setting of `exams.settings.Settings` under its own name, and the vocabularies)
  and GX's `UpdateDataDocsAction`, which builds the Data Docs site into the private work folder
  (`data_docs_site`), rebuilt from nothing at each run; publish puts it beside the warehouse it
  describes (a failed check's site stays private, for the operator);
- results in GX's SUMMARY format without any sample of unexpected values (provenance: a raw field's
  value never reaches Data Docs, audit.dq_results or the log; counts only);
- the site's pages load their CSS, JavaScript and fonts from the site itself (the plugin
  `expectations/plugins/exams_data_docs.py`): it opens from `file://` with no network.

Importing great_expectations takes seconds: it happens once per run, inside `validate`.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import yaml

from exams.errors import ConfigError, StageFailed
from exams.settings import EXPECTATIONS_DIR, Settings

log = logging.getLogger(__name__)

PLUGINS_DIR = EXPECTATIONS_DIR / "plugins"  # GX's plugins folder (Data Docs views and assets)
PLUGIN_MODULE = "exams_data_docs"  # expectations/plugins/exams_data_docs.py
DATA_DOCS = "data_docs"  # the site's folder, in the work folder then in the published folder


def data_docs_site(s: Settings) -> Path:
    """Where this run's Data Docs are built (private until publish)."""
    return s.work_dir / DATA_DOCS


SUITE_NAME = re.compile(r"[A-Za-z0-9_-]+")  # a file name, a GX asset name, a Data Docs folder
# GX's result format for every expectation: counts, and no sample of unexpected values
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 0}

DQ_RESULTS_DDL = """
CREATE TABLE IF NOT EXISTS audit.dq_results (
    run_id VARCHAR, run_at TIMESTAMP, suite VARCHAR, expectation VARCHAR, column_name VARCHAR,
    success BOOLEAN, unexpected_count BIGINT, blocking BOOLEAN
)"""


@dataclass(frozen=True)
class Expectation:
    type: str  # a great_expectations.expectations class, e.g. ExpectColumnValuesToBeInSet
    kwargs: dict[str, Any]  # its arguments; {"$PARAMETER": name} for a suite parameter
    blocking: bool  # a failure stops the publication

    @property
    def severity(self) -> str:
        """GX's name for it."""
        return "critical" if self.blocking else "warning"

    @property
    def column_name(self) -> str | None:
        pair = [str(self.kwargs[k]) for k in ("column_A", "column_B") if k in self.kwargs]
        return self.kwargs.get("column") or ",".join(pair) or None


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    query: str  # SQL on the publication file
    parameters: dict[str, str]  # suite parameter → SQL query of one column on the file
    expectations: tuple[Expectation, ...]


@dataclass(frozen=True)
class Outcome:
    suite: str
    expectation: str
    column_name: str | None
    success: bool
    unexpected_count: int  # rows (of the suite's query) that fail; 1 for a failed table check
    blocking: bool


def history_db(s: Settings) -> Path:
    """Private history of data-quality results, every run's (failed ones included): a file of
    its own beside the build database (the check stage may run in the process of dbt, which
    holds the build database open). The transform stage copies it into each publication."""
    return s.build_db.with_name(s.build_db.stem + ".dq.duckdb")


def load_suites(folder: Path) -> list[Suite]:
    """The suites of `folder` (Settings.suites_dir), in file name order."""
    suites = []
    for path in sorted(folder.glob("*.yml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        try:
            expectations = tuple(
                Expectation(e["type"], dict(e.get("kwargs") or {}), e.get("blocking", True))
                for e in spec["expectations"]
            )
            suite = Suite(spec["name"], spec.get("description", "").strip(), spec["query"],
                          dict(spec.get("parameters") or {}), expectations)  # fmt: skip
        except (KeyError, TypeError) as e:
            raise ConfigError(f"{path}: not a suite ({e!r} missing or malformed)") from e
        if not SUITE_NAME.fullmatch(str(suite.name)):
            raise ConfigError(f"{path}: suite name {suite.name!r}: letters, digits, _ and - only")
        for e in suite.expectations:
            if not isinstance(e.blocking, bool):
                raise ConfigError(f"{path}: {e.type}: blocking must be true or false")
            if "result_format" in e.kwargs:  # samples of values would reach Data Docs
                raise ConfigError(f"{path}: {e.type}: result_format is set by the check stage")
        suites.append(suite)
    names = [x.name for x in suites]
    if len(set(names)) != len(names):
        raise ConfigError(f"{folder}: two suites share a name: {sorted(names)}")
    return suites


def parameters(s: Settings, con: duckdb.DuckDBPyConnection, suites: list[Suite]) -> dict:
    """The suite parameters given to the checkpoint: every numeric setting under its own name
    (a suite may compute with them, e.g. `1 - volume_warn_ratio`), and every vocabulary a suite
    reads from the file being validated (its `parameters`: the values of a one-column query,
    in the order the query gives them)."""
    values: dict[str, Any] = {
        f.name: getattr(s, f.name) for f in fields(s) if type(getattr(s, f.name)) in (int, float)
    }
    queries: dict[str, str] = {}
    for suite in suites:
        for name, sql in suite.parameters.items():
            if name in values and name not in queries:
                raise ConfigError(f"suite {suite.name}: parameter {name!r} is a setting's name")
            if queries.setdefault(name, sql) != sql:
                raise ConfigError(f"suite {suite.name}: parameter {name!r} is defined twice, "
                                  "with two queries")  # fmt: skip
            if name not in values:
                result = con.execute(sql)
                if len(result.description) != 1:
                    raise ConfigError(f"suite {suite.name}: parameter {name!r}: its query must "
                                      "return one column")  # fmt: skip
                values[name] = [v for (v,) in result.fetchall()]
    return values


def _context(gx: Any, site: Path) -> Any:
    """An ephemeral context (suites, checkpoint and results in memory) whose one Data Docs site
    is `site`, rendered by the offline views of the plugins folder; no progress bars, no usage
    statistics sent anywhere."""
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    page = {"module_name": PLUGIN_MODULE, "class_name": "OfflinePageView"}
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        plugins_directory=str(PLUGINS_DIR),
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
        data_docs_sites={
            "exams": {
                "module_name": PLUGIN_MODULE,
                "class_name": "OfflineSiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(site),
                },
                "site_index_builder": {
                    "class_name": "DefaultSiteIndexBuilder",
                    "view": {"module_name": PLUGIN_MODULE, "class_name": "OfflineIndexPageView"},
                },
                "site_section_builders": {
                    section: {"view": page}
                    for section in ("expectations", "validations", "profiling")
                },
            }
        },
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def validate(db: Path, s: Settings, *, run_id: str | None = None) -> list[Outcome]:
    """Run every suite of `s.suites_dir` on `db` (opened read-only) in one checkpoint, build the
    Data Docs site in `data_docs_site(s)` (GX's run name: `run_id`); one outcome per
    expectation, in the suites' order."""
    suites = load_suites(s.suites_dir)
    if not suites:
        raise ConfigError(f"no suite in {s.suites_dir}: nothing would be checked")
    site = data_docs_site(s)
    shutil.rmtree(site, ignore_errors=True)  # this run's pages only
    s.work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="checks-", dir=s.work_dir) as batches:
        # the suites' queries run in DuckDB while great_expectations is imported (seconds of
        # Python): DuckDB leaves the interpreter to the import meanwhile (decisions.md)
        with ThreadPoolExecutor(max_workers=1) as pool:
            queried = pool.submit(_query_suites, db, s, suites, Path(batches))
            import great_expectations as gx
            from great_expectations.core.run_identifier import RunIdentifier

            values = queried.result()

        ctx = _context(gx, site)
        source = ctx.data_sources.add_pandas_filesystem("publication", base_directory=batches)
        definitions = []
        for suite in suites:
            batch = source.add_parquet_asset(suite.name).add_batch_definition_path(
                suite.name, f"{suite.name}.parquet"
            )
            gx_suite = ctx.suites.add(gx.ExpectationSuite(
                name=suite.name,
                notes=[suite.description, f"Query on the publication file: {suite.query}"],
                expectations=[_expectation(gx, suite, e) for e in suite.expectations],
            ))  # fmt: skip
            definitions.append(ctx.validation_definitions.add(
                gx.ValidationDefinition(name=suite.name, data=batch, suite=gx_suite)
            ))  # fmt: skip
        checkpoint = ctx.checkpoints.add(gx.Checkpoint(
            name="publication",
            validation_definitions=definitions,
            actions=[_update_data_docs_once(gx)],
            result_format=RESULT_FORMAT,
        ))  # fmt: skip
        result = checkpoint.run(
            expectation_parameters=values,
            run_id=RunIdentifier(run_name=run_id) if run_id else None,
        )
    return _outcomes(suites, definitions, result)


def _query_suites(db: Path, s: Settings, suites: list[Suite], batches: Path) -> dict:
    """Each suite's query on `db` (read-only) written by DuckDB to `<batches>/<suite>.parquet`;
    returns the suites' parameters (thresholds and vocabularies)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        for suite in suites:
            target = batches / f"{suite.name}.parquet"
            query = suite.query.strip().rstrip(";")
            con.execute(f"COPY ({query}) TO '{_quoted(target)}' (FORMAT parquet)")
        return parameters(s, con, suites)
    finally:
        con.close()


def _update_data_docs_once(gx: Any) -> Any:
    """GX's UpdateDataDocsAction, building the site once for all the checkpoint's results: the
    action as shipped rebuilds the site and its index once per validation result (one per
    suite), which made the check stage 4 s slower at national scale (decisions.md)."""
    return _update_data_docs_once_class(gx)(name="data_docs")


@functools.cache
def _update_data_docs_once_class(gx: Any) -> type:
    """The action's class, defined once per process (GX registers action classes by type)."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    class UpdateDataDocsOnce(gx.checkpoint.UpdateDataDocsAction):
        type: Literal["update_data_docs_once"] = "update_data_docs_once"

        def run(self, checkpoint_result: Any, action_context: Any = None) -> dict:
            built = []
            for identifier, result in checkpoint_result.run_results.items():
                built += [identifier, ExpectationSuiteIdentifier(name=result.suite_name)]
            self._build_data_docs(site_names=self.site_names or None, resource_identifiers=built)
            return {}

    UpdateDataDocsOnce.update_forward_refs(Literal=Literal)
    return UpdateDataDocsOnce


def _expectation(gx: Any, suite: Suite, e: Expectation) -> Any:
    """The great-expectations object of a suite's expectation."""
    cls = getattr(gx.expectations, e.type, None)
    if not isinstance(cls, type):
        raise ConfigError(f"suite {suite.name}: {e.type} is not a great-expectations expectation")
    return cls(**e.kwargs, severity=e.severity)


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def _outcomes(suites: list[Suite], definitions: list[Any], result: Any) -> list[Outcome]:
    """GX's results, matched to the suites' expectations by the ids GX gave them."""
    declared = {
        str(gx_e.id): (i, j, suite.name, e)
        for i, (suite, definition) in enumerate(zip(suites, definitions, strict=True))
        for j, (e, gx_e) in enumerate(
            zip(suite.expectations, definition.suite.expectations, strict=True)
        )
    }  # fmt: skip
    found = []
    for run in result.run_results.values():
        for r in run.results:
            i, j, suite_name, e = declared[str(r.expectation_config.id)]
            unexpected = (r.result or {}).get("unexpected_count")
            found.append(((i, j), Outcome(
                suite=suite_name,
                expectation=e.type,
                column_name=e.column_name,
                success=bool(r.success),
                unexpected_count=int(unexpected if unexpected is not None else not r.success),
                blocking=e.blocking,
            )))  # fmt: skip
    if len(found) != len(declared):
        raise StageFailed(f"great-expectations returned {len(found)} results for "
                          f"{len(declared)} expectations")  # fmt: skip
    return [o for _, o in sorted(found, key=lambda x: x[0])]


def record(dbs: list[Path], outcomes: list[Outcome], run_id: str) -> None:
    """One row per expectation into audit.dq_results of each database."""
    run_at = datetime.now()
    rows = [
        (run_id, run_at, o.suite, o.expectation, o.column_name, o.success,
         o.unexpected_count, o.blocking)
        for o in outcomes
    ]  # fmt: skip
    for db in dbs:
        db.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(db))
        try:
            con.execute("CREATE SCHEMA IF NOT EXISTS audit")
            con.execute(DQ_RESULTS_DDL)
            con.executemany("INSERT INTO audit.dq_results VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        finally:
            con.close()


def _named(o: Outcome) -> str:
    return f"{o.suite}: {o.expectation}({o.column_name or ''}), {o.unexpected_count} unexpected"


def run(s: Settings, run_id: str) -> None:
    """The check stage: validate the candidate publication `s.new_db`, record the outcomes in
    its audit.dq_results and in the private history (`history_db`), build the Data Docs. A
    blocking failure deletes the candidate (and its write-ahead log) and raises StageFailed:
    nothing is published."""
    if not s.new_db.exists():
        raise StageFailed(f"{s.new_db} is missing: run the transform stage first")
    outcomes = validate(s.new_db, s, run_id=run_id)
    record([s.new_db, history_db(s)], outcomes, run_id)
    failed = [o for o in outcomes if not o.success]
    for o in failed:
        log.warning("check %s: %s", "BLOCKING" if o.blocking else "warning", _named(o))
    log.info("check: %d expectation(s), %d failed, run %s; Data Docs in %s", len(outcomes),
             len(failed), run_id, data_docs_site(s))  # fmt: skip
    blocking = [o for o in failed if o.blocking]
    if blocking:
        for leftover in (s.new_db, s.new_db.with_name(s.new_db.name + ".wal")):
            leftover.unlink(missing_ok=True)
        raise StageFailed(
            "blocking data-quality check(s) failed, nothing published:\n  "
            + "\n  ".join(_named(o) for o in blocking)
        )


def publish_data_docs(s: Settings) -> Path:
    """This run's Data Docs beside the warehouse they describe (the publish stage): copied next
    to the served site, then put in its place by renames."""
    site, target = data_docs_site(s), s.publish_dir / DATA_DOCS
    tmp, old = target.with_name(f".{DATA_DOCS}.tmp"), target.with_name(f".{DATA_DOCS}.old")
    for leftover in (tmp, old):
        shutil.rmtree(leftover, ignore_errors=True)
    shutil.copytree(site, tmp)
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)
    return target
