"""Data-quality suites: every expectation passes on the published sample and fails on a crafted
bad input (great-expectations run for real on copies of the published file)."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import duckdb
import pytest

from exams import checks, settings


@pytest.fixture(scope="module")
def s(tmp_path_factory: pytest.TempPathFactory, monkeypatch_module=None) -> settings.Settings:
    base = tmp_path_factory.mktemp("checks")
    return settings.Settings(
        raw_dir=base, warehouse=base / "results.duckdb", extracts_dir=base / "x", mode="test",
        secrecy_threshold=5, mismatch_warn_share=0.05, volume_warn_ratio=0.5,
    )  # fmt: skip


def _copy(src: Path, dst: Path, *statements: str) -> Path:
    shutil.copyfile(src, dst)
    con = duckdb.connect(str(dst))
    for sql in statements:
        con.execute(sql)
    con.close()
    return dst


def test_every_expectation_passes_on_the_sample(published_warehouse: Path, s, tmp_path: Path):
    db = _copy(published_warehouse, tmp_path / "good.duckdb",
               "DELETE FROM audit.file_manifest WHERE status = 'REJECTED'",
               "DELETE FROM audit.quarantine")  # fmt: skip
    outcomes = checks.validate(db, s)
    assert len(outcomes) == sum(len(x["expectations"]) for x in checks.load_suites())
    failed = [(o.suite, o.expectation, o.column_name) for o in outcomes if not o.success]
    assert failed == []


BREAK = [
    # marts_pass_rates
    "UPDATE marts.pass_rates SET pass_rate = 1.5 WHERE rowid = 0",
    "UPDATE marts.pass_rates SET academy_name = NULL WHERE rowid = 1",
    "UPDATE marts.pass_rates SET admitted = present + 1 WHERE rowid = 2",
    "UPDATE marts.pass_rates SET present = registered + 1 WHERE rowid = 3",
    "UPDATE marts.pass_rates SET access_route = 'Autre' WHERE rowid = 4",
    "UPDATE marts.pass_rates SET registered = registered + 5000 WHERE rowid = 5",
    # marts_block_capitalisation and marts_add_up (sums of assessed/acquired change)
    "UPDATE marts.block_capitalisation SET acquisition_rate = 2 WHERE rowid = 0",
    "UPDATE marts.block_capitalisation SET acquired = assessed + 1 WHERE rowid = 1",
    "UPDATE marts.block_capitalisation SET assessed = assessed + 5 WHERE rowid = 2",
    "UPDATE marts.block_capitalisation SET unit_code = 'U9' WHERE rowid = 3",
    # audit_file_manifest
    "UPDATE audit.file_manifest SET rows_total = rows_total + 1 WHERE rowid = 0",
    "UPDATE audit.file_manifest SET rows_quarantined = rows_quarantined + 1, "
    "rows_loaded = rows_loaded - 1 WHERE rowid = 1",
    "UPDATE audit.file_manifest SET status = 'LOST' WHERE rowid = 2",
    # raw_exports: a file rejected for its columns, a file with a third of its rows quarantined
    "UPDATE audit.file_manifest SET reason = 'MISSING_COLUMN: statut' WHERE rowid = 3",
    "UPDATE audit.file_manifest SET rows_quarantined = rows_total // 3 WHERE rowid = 4",
    # jury_reconciliation: a file where a tenth of the jury decisions differ
    "UPDATE marts.fct_candidate_session SET decision_matches = false WHERE rowid % 10 = 0",
    # staged_rows
    "UPDATE audit.staged_row_checks SET violations = 1 WHERE rowid = 0",
    "UPDATE audit.staged_row_checks SET check_name = 'other' WHERE rowid = 1",
]


def test_every_expectation_fails_on_crafted_bad_input(published_warehouse: Path, s, tmp_path):
    bad = _copy(published_warehouse, tmp_path / "bad.duckdb", *BREAK)
    empty = _copy(published_warehouse, tmp_path / "empty.duckdb", "DELETE FROM marts.pass_rates")
    outcomes = checks.validate(bad, s)
    empty_outcomes = checks.validate(empty, s)
    caught = {
        (o.suite, o.expectation, o.column_name)
        for o in outcomes + empty_outcomes if not o.success
    }  # fmt: skip
    every = {(o.suite, o.expectation, o.column_name) for o in outcomes}
    assert every - caught == set()
    blocking = [o for o in outcomes if not o.success and o.blocking]
    assert blocking and all(o.unexpected_count >= 1 for o in blocking)


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("UPDATE marts.pass_rates SET pass_rate = 1.5 WHERE rowid = 0",
         ("ExpectColumnValuesToBeBetween", "pass_rate")),
        ("UPDATE marts.pass_rates SET academy_name = NULL WHERE rowid = 1",
         ("ExpectColumnValuesToNotBeNull", "academy_name")),
        ("UPDATE marts.pass_rates SET present = registered + 1 WHERE rowid = 3",
         ("ExpectColumnPairValuesAToBeGreaterThanB", "registered,present")),
    ],
)  # fmt: skip
def test_each_failure_is_reported_under_its_own_expectation(
    published_warehouse: Path, s, tmp_path: Path, statement: str, expected: tuple[str, str]
) -> None:
    bad = _copy(published_warehouse, tmp_path / "one.duckdb", statement)
    suite = [x for x in checks.load_suites() if x["name"] == "marts_pass_rates"]
    failed = [(o.expectation, o.column_name) for o in checks.validate(bad, s, suite)
              if not o.success]  # fmt: skip
    assert failed == [expected]


def test_deferred_imports_load_on_first_use(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "probe_heavy.py").write_text("LOADS = []\nLOADS.append(1)\nVALUE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "probe_heavy", raising=False)
    with checks._deferred_imports("probe_heavy", "no_such_module_here"):
        import probe_heavy  # what great_expectations' modules do at import time
    assert "probe_heavy" not in sys.modules  # as if never imported
    assert probe_heavy.VALUE == 42  # first use: the real module
    assert sys.modules["probe_heavy"].LOADS == [1]  # executed once
    assert probe_heavy.LOADS is sys.modules["probe_heavy"].LOADS


def _file_context_docs(db: Path, s: settings.Settings, root: Path) -> Path:
    """Data Docs as the check stage first built them: a file context, its stores on disk."""
    gx = checks._import_gx()
    ctx = gx.get_context(mode="file", project_root_dir=str(root))
    source = ctx.data_sources.add_pandas("exams")
    con = duckdb.connect(str(db), read_only=True)
    for spec in checks.load_suites():
        name = spec["name"]
        batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
        expectations = [getattr(gx.expectations, e["type"])(**checks._kwargs(e["kwargs"], s))
                        for e in spec["expectations"]]  # fmt: skip
        suite = ctx.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
        vd = ctx.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch, suite=suite)
        )
        checkpoint = ctx.checkpoints.add(
            gx.Checkpoint(name=f"{name}_checkpoint", validation_definitions=[vd])
        )
        checkpoint.run(batch_parameters={"dataframe": con.execute(spec["query"]).df()})
    con.close()
    ctx.build_data_docs()
    return root / checks.DOCS_SITE


def _normalised(site: Path) -> dict[str, str]:
    """Every page of a Data Docs site, without what changes from run to run."""
    stamp = re.compile(r"\d{8}T\d{6}\.\d{6}Z")
    variable = [
        (stamp, "STAMP"),
        (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "UUID"),
        (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(\+00:00|Z)?"), "TIME"),
        (re.compile(r"'_run_time_sort': [0-9.]+"), "SORT"),
        # the hash of the rows, in the order DuckDB returned them (not fixed)
        (re.compile(r"(pandas_data_fingerprint</span>(?:\s|<[^>]*>)*)[0-9a-f]{32}"), r"\1FP"),
    ]  # fmt: skip
    pages = {}
    for page in sorted(site.rglob("*")):
        if page.is_file():
            text = page.read_text(errors="replace")
            for pattern, repl in variable:
                text = pattern.sub(repl, text)
            pages[stamp.sub("STAMP", str(page.relative_to(site)))] = text
    return pages


def test_data_docs_are_the_file_context_ones(published_warehouse: Path, s, tmp_path: Path):
    checks.validate(published_warehouse, s)
    ours = _normalised(s.work_dir / "gx" / checks.DOCS_SITE)
    reference = _normalised(_file_context_docs(published_warehouse, s, tmp_path / "gx"))
    assert sorted(ours) == sorted(reference)
    assert len([p for p in ours if p.startswith("validations/")]) == len(checks.load_suites())
    for page, text in reference.items():
        assert ours[page] == text, page
    assert ".ge-index-page-site-name-title" in ours["index.html"]  # the custom styles
    assert "dataContextId=UUID" in ours["index.html"]
