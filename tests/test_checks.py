"""Data-quality suites: every expectation passes on the published sample and fails on a crafted
bad input (great-expectations run for real on copies of the published file)."""

from __future__ import annotations

import shutil
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
