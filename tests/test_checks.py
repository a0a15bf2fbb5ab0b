"""Data-quality suites: great-expectations run for real (one checkpoint, Data Docs built) on copies
of the warehouse a real run published from the committed sample. Every expectation passes on the
sample and fails on a crafted bad copy; thresholds come from the settings and vocabularies from
the file's reference tables; no value of the data reaches Data Docs, audit.dq_results or the
log; the Data Docs open offline in a real headless chromium."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import shutil
import subprocess
import sys
from base64 import b64encode
from pathlib import Path

import duckdb
import pytest
from browser import offline_pages
from pipeline_support import REPO_ROOT

from exams import checks, settings
from exams.errors import ConfigError, StageFailed

ARTIFACTS = REPO_ROOT / "test-artifacts" / "checks"


def _settings(base: Path, **thresholds: float) -> settings.Settings:
    values = {"mismatch_warn_share": 0.05, "quarantine_warn_share": 0.02, "volume_warn_ratio": 0.5}
    return settings.Settings(
        raw_dir=base / "raw", warehouse=base / "wh" / "results.duckdb",
        extracts_dir=base / "x", mode="test", **{**values, **thresholds},
    )  # fmt: skip


def _copy(src: Path, dst: Path, *statements: str) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    con = duckdb.connect(str(dst))
    for sql in statements:
        con.execute(sql)
    con.close()
    return dst


def _key(o: checks.Outcome) -> tuple[str, str, str | None]:
    return (o.suite, o.expectation, o.column_name)


# the sample, without the file it deliberately rejects (a warning: published anyway)
WITHOUT_REJECTED = ("DELETE FROM audit.file_manifest WHERE status = 'REJECTED'",
                    "DELETE FROM audit.quarantine WHERE scope = 'file'")  # fmt: skip


@pytest.fixture(scope="module")
def sample_run(published_warehouse: Path, tmp_path_factory: pytest.TempPathFactory):
    """validate() on the sample: (settings, outcomes); its Data Docs in s.publish_dir."""
    base = tmp_path_factory.mktemp("sample")
    s = _settings(base)
    db = _copy(published_warehouse, base / "good.duckdb", *WITHOUT_REJECTED)
    return s, checks.validate(db, s, run_id="sample-run")


def test_every_expectation_passes_on_the_sample(sample_run) -> None:
    s, outcomes = sample_run
    suites = checks.load_suites(s.suites_dir)
    assert [_key(o) for o in outcomes] == [
        (x.name, e.type, e.column_name) for x in suites for e in x.expectations
    ]
    assert [_key(o) for o in outcomes if not o.success] == []
    assert all(o.unexpected_count == 0 for o in outcomes)


BREAK = [
    # marts_pass_rates
    "UPDATE marts.pass_rates SET pass_rate = 1.5 WHERE rowid = 0",
    "UPDATE marts.pass_rates SET academy_name = NULL WHERE rowid = 1",
    "UPDATE marts.pass_rates SET admitted = present + 1 WHERE rowid = 2",
    "UPDATE marts.pass_rates SET present = registered + 1 WHERE rowid = 3",
    "UPDATE marts.pass_rates SET access_route = 'Autre' WHERE rowid = 4",
    "UPDATE marts.pass_rates SET registered = registered + 5000 WHERE rowid = 5",
    "UPDATE marts.pass_rates SET candidate_category = 'AUTRE' WHERE rowid = 6",
    # marts_block_capitalisation and marts_add_up (sums of assessed/acquired change)
    "UPDATE marts.block_capitalisation SET acquisition_rate = 2 WHERE rowid = 0",
    "UPDATE marts.block_capitalisation SET acquired = assessed + 1 WHERE rowid = 1",
    "UPDATE marts.block_capitalisation SET assessed = assessed + 5 WHERE rowid = 2",
    "UPDATE marts.block_capitalisation SET unit_code = 'U9' WHERE rowid = 3",
    "UPDATE marts.block_capitalisation SET block_code = 'BC99' WHERE rowid = 4",
    # audit_file_manifest (the sample's rejected file is kept: the warning fails)
    "UPDATE audit.file_manifest SET rows_total = rows_total + 1 WHERE rowid = 0",
    "UPDATE audit.file_manifest SET rows_quarantined = rows_quarantined + 1, "
    "rows_loaded = rows_loaded - 1 WHERE rowid = 1",
    "UPDATE audit.file_manifest SET status = 'LOST' WHERE rowid = 2",
    # raw_exports: a file rejected for its columns, a file with a third of its rows quarantined
    "UPDATE audit.file_manifest SET reason = 'MISSING_COLUMN: statut' WHERE rowid = 3",
    "UPDATE audit.file_manifest SET rows_quarantined = rows_total // 3 WHERE rowid = 4",
    # jury_reconciliation: a tenth of the jury decisions differ
    "UPDATE marts.fct_candidate_session SET decision_matches = false WHERE rowid % 10 = 0",
    # marts_candidate_codes
    "UPDATE marts.fct_candidate_session SET sex = 'X' WHERE rowid = 1",
    "UPDATE marts.fct_candidate_session SET candidate_category = 'AUTRE' WHERE rowid = 2",
    "UPDATE marts.fct_candidate_session SET access_route = 'Autre' WHERE rowid = 3",
    "UPDATE marts.fct_candidate_session SET decision = 'AJOURNE' WHERE rowid = 4",
    "UPDATE marts.fct_candidate_session SET reported_decision = 'AJOURNE' WHERE rowid = 5",
    # marts_unit_codes
    "UPDATE marts.fct_unit_result SET unit_code = 'U9' WHERE rowid = 0",
    "UPDATE marts.fct_unit_result SET block_code = 'BC99' WHERE rowid = 1",
    # staged_rows
    "UPDATE audit.staged_row_checks SET violations = 1 WHERE rowid = 0",
    "UPDATE audit.staged_row_checks SET check_name = 'other' WHERE rowid = 1",
]


def test_every_expectation_fails_on_crafted_bad_input(published_warehouse: Path, tmp_path):
    s = _settings(tmp_path)
    bad = _copy(published_warehouse, tmp_path / "bad.duckdb", *BREAK)
    empty = _copy(published_warehouse, tmp_path / "empty.duckdb", "DELETE FROM marts.pass_rates")
    outcomes = checks.validate(bad, s)
    empty_outcomes = checks.validate(empty, s)
    caught = {_key(o) for o in outcomes + empty_outcomes if not o.success}
    assert {_key(o) for o in outcomes} - caught == set()
    failed = [o for o in outcomes + empty_outcomes if not o.success]
    assert all(o.unexpected_count >= 1 for o in failed)


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("UPDATE marts.pass_rates SET pass_rate = 1.5 WHERE rowid = 0",
         ("ExpectColumnValuesToBeBetween", "pass_rate")),
        ("UPDATE marts.pass_rates SET academy_name = NULL WHERE rowid = 1",
         ("ExpectColumnValuesToNotBeNull", "academy_name")),
        ("UPDATE marts.pass_rates SET present = registered + 1 WHERE rowid = 3",
         ("ExpectColumnPairValuesAToBeGreaterThanB", "registered,present")),
        ("UPDATE marts.pass_rates SET candidate_category = 'AUTRE' WHERE rowid = 6",
         ("ExpectColumnValuesToBeInSet", "candidate_category")),
    ],
)  # fmt: skip
def test_each_failure_is_reported_under_its_own_expectation(
    published_warehouse: Path, tmp_path: Path, statement: str, expected: tuple[str, str]
) -> None:
    suites = tmp_path / "suites"
    suites.mkdir()
    shutil.copy(settings.EXPECTATIONS_DIR / "suites" / "marts_pass_rates.yml", suites)
    s = dataclasses.replace(_settings(tmp_path), suites_dir=suites)
    bad = _copy(published_warehouse, tmp_path / "one.duckdb", statement)
    failed = [(o.expectation, o.column_name) for o in checks.validate(bad, s) if not o.success]
    assert failed == [expected]


# crosses the three thresholds the settings give: a tenth of one académie's jury decisions
# differ, a loaded file has a tenth of its rows in quarantine, an académie triples its candidates
NEAR_THRESHOLDS = (
    "UPDATE marts.fct_candidate_session SET decision_matches = false "
    "WHERE is_complete AND academy_code = '10' AND rowid % 10 = 0",
    "UPDATE audit.file_manifest SET rows_quarantined = rows_total // 10 WHERE status = 'LOADED'",
    "UPDATE marts.pass_rates SET registered = registered * 3 WHERE academy_code = '24' "
    "AND session = (SELECT max(session) FROM marts.pass_rates)",
)
THRESHOLDED = {
    ("jury_reconciliation", "ExpectColumnValuesToBeBetween", "decision_mismatch_share"),
    ("raw_exports", "ExpectColumnValuesToBeBetween", "quarantined_share"),
    ("volume", "ExpectColumnValuesToBeBetween", "ratio_to_previous"),
}


def test_thresholds_come_from_the_settings(published_warehouse: Path, tmp_path: Path) -> None:
    db = _copy(published_warehouse, tmp_path / "near.duckdb", *WITHOUT_REJECTED, *NEAR_THRESHOLDS)
    strict = checks.validate(db, _settings(tmp_path / "strict"))
    lenient = checks.validate(db, _settings(
        tmp_path / "lenient", mismatch_warn_share=0.3, quarantine_warn_share=0.3,
        volume_warn_ratio=3.0,
    ))  # fmt: skip
    assert {_key(o) for o in strict if not o.success} >= THRESHOLDED
    assert {_key(o) for o in lenient if not o.success} & THRESHOLDED == set()
    # the Data Docs show the value the setting gave (GX evaluated `1 + volume_warn_ratio`)
    page = next(
        (checks.data_docs_site(_settings(tmp_path / "lenient")) / "validations" / "volume").rglob("*.html")
    )
    assert re.search(r">\s*4(\.0)?\s*<", page.read_text())


def test_vocabularies_come_from_the_reference_tables(published_warehouse: Path, tmp_path):
    """A code the seeds do not know fails; the same code added to the file's reference table
    passes: nothing is pasted in the suites."""
    route = "UPDATE marts.pass_rates SET access_route = 'Autre' WHERE rowid = 4"
    unknown = _copy(published_warehouse, tmp_path / "unknown.duckdb", route)
    known = _copy(published_warehouse, tmp_path / "known.duckdb", route,
                  "INSERT INTO reference.ref_access_routes VALUES ('Autre', 99)")  # fmt: skip
    key = ("marts_pass_rates", "ExpectColumnValuesToBeInSet", "access_route")
    s = _settings(tmp_path)
    assert [o.success for o in checks.validate(unknown, s) if _key(o) == key] == [False]
    assert [o.success for o in checks.validate(known, s) if _key(o) == key] == [True]


MARKER = "ZQX-raw-marker-7731"


def test_no_value_of_the_data_is_published(published_warehouse: Path, tmp_path: Path, caplog):
    """A marker planted in text columns the expectations flag: the failures are counted, the
    marker is in no Data Docs page, no audit.dq_results row, no log line, no error message."""
    s = _settings(tmp_path)
    s.publish_dir.mkdir(parents=True)
    _copy(published_warehouse, s.new_db,
          f"UPDATE marts.pass_rates SET access_route = '{MARKER}' WHERE rowid = 0",
          f"UPDATE marts.fct_candidate_session SET reported_decision = '{MARKER}' WHERE rowid = 0",
          f"UPDATE audit.file_manifest SET status = '{MARKER}' WHERE rowid = 0",
          f"UPDATE audit.staged_row_checks SET check_name = '{MARKER}' WHERE rowid = 0")  # fmt: skip
    caplog.set_level(logging.INFO, logger="exams.checks")
    with pytest.raises(StageFailed) as failure:
        checks.run(s, "run-marker")

    con = duckdb.connect(str(checks.history_db(s)), read_only=True)
    rows = con.execute("SELECT * FROM audit.dq_results").fetchall()
    flagged = con.execute(
        "SELECT suite, column_name, unexpected_count FROM audit.dq_results WHERE NOT success "
        "AND expectation IN ('ExpectColumnValuesToBeInSet', 'ExpectColumnValuesToNotBeInSet')"
    ).fetchall()
    con.close()
    assert {(suite, column) for suite, column, n in flagged if n >= 1} >= {
        ("marts_pass_rates", "access_route"), ("marts_candidate_codes", "reported_decision"),
        ("audit_file_manifest", "status"), ("staged_rows", "check_name"),
    }  # fmt: skip
    assert {r[0] for r in rows} == {"run-marker"}
    assert MARKER not in repr(rows)
    site = checks.data_docs_site(s)
    pages = [p for p in site.rglob("*") if p.is_file() and "vendor" not in p.parts]
    assert len([p for p in pages if p.suffix == ".html"]) > len(checks.load_suites(s.suites_dir))
    assert [p for p in pages if MARKER.encode() in p.read_bytes()] == []
    assert (
        "unexpected values found"
        in next((site / "validations" / "staged_rows").rglob("*.html")).read_text()
    )
    assert MARKER not in caplog.text and MARKER not in str(failure.value)
    # the failing check's log line names its suite, expectation, column and count
    assert (
        "check BLOCKING: staged_rows: ExpectColumnValuesToBeInSet(check_name), 1 unexpected"
        in caplog.text
    )
    assert "staged_rows: ExpectColumnValuesToBeInSet(check_name), 1 unexpected" in str(
        failure.value
    )
    # a blocking failure: the candidate publication and its write-ahead log are gone
    assert not s.new_db.exists() and not s.new_db.with_name(s.new_db.name + ".wal").exists()


def test_run_records_every_outcome_in_the_publication_and_the_history(
    published_warehouse: Path, tmp_path: Path
) -> None:
    s = _settings(tmp_path)
    _copy(published_warehouse, s.new_db, "DELETE FROM audit.dq_results")
    checks.run(s, "run-1")  # the sample's rejected file: warnings only
    checks.run(s, "run-2")
    n = sum(len(x.expectations) for x in checks.load_suites(s.suites_dir))
    for db in (s.new_db, checks.history_db(s)):
        con = duckdb.connect(str(db), read_only=True)
        per_run = con.execute(
            "SELECT run_id, count(*), count(*) FILTER (WHERE NOT success AND blocking), "
            "count(*) FILTER (WHERE NOT success AND NOT blocking) "
            "FROM audit.dq_results GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        con.close()
        assert [(run, total, blocking) for run, total, blocking, _ in per_run] == [
            ("run-1", n, 0), ("run-2", n, 0)]  # fmt: skip
        assert all(warnings >= 1 for *_, warnings in per_run)
    assert s.new_db.exists()
    assert (checks.data_docs_site(s) / "index.html").exists()


def test_suites_cannot_ask_for_samples_of_values(tmp_path: Path) -> None:
    (tmp_path / "leaky.yml").write_text(
        "name: leaky\nquery: SELECT 1 AS x\nexpectations:\n"
        "  - type: ExpectColumnValuesToBeInSet\n"
        "    kwargs: {column: x, value_set: [2], result_format: COMPLETE}\n"
    )
    with pytest.raises(ConfigError, match="result_format"):
        checks.load_suites(tmp_path)


def test_a_parameter_has_one_query(tmp_path: Path) -> None:
    suite = "name: {n}\nquery: SELECT 1 AS x\nparameters:\n  codes: {q}\nexpectations: []\n"
    (tmp_path / "a.yml").write_text(suite.format(n="a", q="SELECT 'A'"))
    (tmp_path / "b.yml").write_text(suite.format(n="b", q="SELECT 'B'"))
    con = duckdb.connect()
    with pytest.raises(ConfigError, match="codes"):
        checks.parameters(_settings(tmp_path), con, checks.load_suites(tmp_path))
    (tmp_path / "b.yml").unlink()
    values = checks.parameters(_settings(tmp_path), con, checks.load_suites(tmp_path))
    assert values["codes"] == ["A"] and values["mismatch_warn_share"] == 0.05


def test_importing_checks_imports_neither_pipeline_nor_great_expectations() -> None:
    code = ("import sys, exams.checks; "
            "print(sorted(m for m in ('exams.pipeline', 'great_expectations') if m in sys.modules))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_vendored_assets_are_the_ones_gx_pins() -> None:
    """bootstrap.js and popper.js: GX's templates pin their CDN copies by hash (subresource
    integrity); the vendored files are byte for byte those."""
    import great_expectations

    imports = (
        Path(great_expectations.__file__).parent / "render/view/templates/js_script_imports.j2"
    )
    pins = re.findall(r'src="[^"]*/([^/"]+)" integrity="sha384-([^"]+)"', imports.read_text())
    assert {name for name, _ in pins} == {"popper.min.js", "bootstrap.min.js"}
    vendor = checks.PLUGINS_DIR / "custom_data_docs" / "vendor"
    for name, digest in pins:
        (path,) = vendor.rglob(name)
        assert b64encode(hashlib.sha384(path.read_bytes()).digest()).decode() == digest


def test_data_docs_open_offline(sample_run) -> None:
    """The published site from file://, every other request aborted (and recorded): styled
    (Bootstrap, Font Awesome), its scripts run (bootstrap-table), the suites' results shown, in
    the light and the dark colour scheme."""
    s, outcomes = sample_run
    site = checks.data_docs_site(s)
    suites = [x.name for x in checks.load_suites(s.suites_dir)]
    result_page = next((site / "validations" / "marts_pass_rates").rglob("*.html"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    failed, errors = [], []

    with offline_pages() as (new_page, outside):
        for scheme in ("light", "dark"):
            page = new_page(color_scheme=scheme, viewport={"width": 1280, "height": 900})
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))

            page.goto((site / "index.html").as_uri())
            page.wait_for_selector(".bootstrap-table")  # bootstrap-table's script ran
            page.evaluate("document.fonts.ready.then(() => true)")
            style = page.evaluate("""() => ({
                navbar: getComputedStyle(document.querySelector('.navbar')).display,
                row: getComputedStyle(document.querySelector('.row')).display,
                icons: [...document.fonts].some(
                    f => f.family.includes('Font Awesome') && f.status === 'loaded'),
            })""")
            assert style == {"navbar": "flex", "row": "flex", "icons": True}, scheme
            rows = page.locator("table tbody tr").all_text_contents()
            for suite in suites:
                assert any(suite in row for row in rows), suite
            page.screenshot(
                path=str(ARTIFACTS / f"data_docs_index_{scheme}.png"), full_page=True
            )

            page.goto(result_page.as_uri())
            page.wait_for_selector("text=Expectation Validation Result")
            assert page.locator("text=access_route").count() >= 1
            assert (
                page.evaluate("getComputedStyle(document.querySelector('.navbar')).display")
                == "flex"
            )
            page.screenshot(
                path=str(ARTIFACTS / f"data_docs_result_{scheme}.png"), full_page=True
            )
            page.close()
    assert outside == [] and failed == [] and errors == []
