"""Grades and averages are checked as written (export-format.md, "Files that must not be trusted
as they look"): more than two decimals, an exponent, a sign, a space inside, non-ASCII digits or
any other form quarantines the row; a value is never rounded before it is checked. Surrounding
spaces are not part of a field (fields are trimmed).

One export holds every case, one per row, and is read by the real ingest (DuckDB)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import assert_accounting, ingest, read_lines, set_field, write_clean, write_lines

# written text -> the reason code of the row, or the exact hundredths stored
NOTES: dict[str, str | int] = {
    "9,9999999": "NOTE_TOO_PRECISE",  # never stored as 10.00
    "9.9999999999999999999": "NOTE_TOO_PRECISE",  # a DOUBLE would make it 10.0
    "19,999": "NOTE_TOO_PRECISE",
    "20,00000000000000001": "NOTE_TOO_PRECISE",  # a DOUBLE would make it 20.0: in range
    "1e1": "NOTE_NOT_A_NUMBER",
    "1E1": "NOTE_NOT_A_NUMBER",
    "+12": "NOTE_NOT_A_NUMBER",
    "-0": "NOTE_NOT_A_NUMBER",
    "-12": "NOTE_NOT_A_NUMBER",
    "1 2": "NOTE_NOT_A_NUMBER",  # a space inside
    "12 ,5": "NOTE_NOT_A_NUMBER",
    "\u00a012": "NOTE_NOT_A_NUMBER",  # a no-break space is not a surrounding space
    "\u0661\u0662": "NOTE_NOT_A_NUMBER",  # Arabic-Indic digits ١٢
    "\uff11\uff12": "NOTE_NOT_A_NUMBER",  # full-width digits １２
    "1\u0662": "NOTE_NOT_A_NUMBER",
    "12,": "NOTE_NOT_A_NUMBER",
    "12.": "NOTE_NOT_A_NUMBER",
    ",5": "NOTE_NOT_A_NUMBER",
    "12,5,0": "NOTE_NOT_A_NUMBER",
    "12,5.0": "NOTE_NOT_A_NUMBER",
    "0x0C": "NOTE_NOT_A_NUMBER",
    "NaN": "NOTE_NOT_A_NUMBER",
    "inf": "NOTE_NOT_A_NUMBER",
    "20,5": "NOTE_OUT_OF_RANGE",
    "12,5": 1250,
    "12.50": 1250,
    "12.5": 1250,
    "20": 2000,
    "20,00": 2000,
    "0": 0,
    "0,0": 0,
    "007": 700,
    " 12 ": 1200,  # surrounding spaces are trimmed
    "  9,75": 975,
}
MOYENNES: dict[str, str | int] = {
    "9,9999999": "MOYENNE_TOO_PRECISE",
    "11,255": "MOYENNE_TOO_PRECISE",
    "1e1": "INVALID_MOYENNE",
    "+12": "INVALID_MOYENNE",
    "-0": "INVALID_MOYENNE",
    "1 2": "INVALID_MOYENNE",
    "\u0661\u0662": "INVALID_MOYENNE",
    "12,": "INVALID_MOYENNE",
    "12,5": 1250,
    "12.50": 1250,
    "20": 2000,
    "0": 0,
    "20,48": 2048,  # above 20 with the optional épreuve's points: valid
    " 11,14 ": 1114,
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory):
    """One export, one grade case per row (E1 rows at statut NOTE: a grade is required there),
    then one average case per row of other candidates; ingested once."""
    tmp = tmp_path_factory.mktemp("grades")
    path = write_clean(tmp / "raw", n=12, seed=11)
    lines = read_lines(path)
    rows = list(range(2, len(lines) + 1))
    assert len(rows) >= len(NOTES) + len(MOYENNES)
    notes = dict(zip(rows, NOTES, strict=False))
    for line, text in notes.items():
        # PONCTUEL, no origin: only the grade can break a rule
        set_field(lines, line, statut="NOTE", note=text, session_origine="", forme="PONCTUEL")
    moyennes = dict(zip(rows[len(NOTES):], MOYENNES, strict=False))
    for line, text in moyennes.items():
        set_field(lines, line, moyenne=text)
    write_lines(path, lines)
    con = ingest(tmp / "raw", tmp)
    yield con, notes, moyennes
    con.close()


def _outcome(con, line: int, column: str) -> str | int | None:
    reason, detail, value = con.execute(
        f"""SELECT q.reason_code, q.detail, r.{column}
        FROM raw.export_rows AS r LEFT JOIN raw.quarantine AS q USING (file_name, line_number)
        WHERE r.line_number = ?""",
        [line],
    ).fetchone()
    if reason is not None:
        assert value is None  # a row in quarantine keeps no value
        return reason, detail
    return value


@pytest.mark.parametrize("text", list(NOTES), ids=repr)
def test_a_grade_is_checked_as_written(graded, text: str) -> None:
    con, notes, _ = graded
    line = next(k for k, v in notes.items() if v == text)
    outcome = _outcome(con, line, "note_hundredths")
    expected = NOTES[text]
    if isinstance(expected, int):
        assert outcome == expected
    else:
        reason, detail = outcome
        assert reason == expected
        # the detail names the column and the rule, never the value
        assert detail.startswith("note — ") and text.strip() not in detail.removeprefix("note")


@pytest.mark.parametrize("text", list(MOYENNES), ids=repr)
def test_an_average_is_checked_as_written(graded, text: str) -> None:
    con, _, moyennes = graded
    line = next(k for k, v in moyennes.items() if v == text)
    outcome = _outcome(con, line, "moyenne_hundredths")
    expected = MOYENNES[text]
    if isinstance(expected, int):
        assert outcome == expected
    else:
        reason, detail = outcome
        assert reason == expected
        assert detail.startswith("moyenne — ") and text.strip() not in detail.removeprefix(
            "moyenne"
        )


def test_no_grade_is_rounded_into_a_valid_one(graded) -> None:
    """`9,9999999` is nowhere stored as 10.00 (nor any quarantined grade as anything)."""
    con, notes, _ = graded
    line = next(k for k, v in notes.items() if v == "9,9999999")
    assert con.execute(
        "SELECT note_hundredths, moyenne_hundredths FROM raw.export_rows WHERE line_number = ?",
        [line],
    ).fetchone() == (None, None)
    assert_accounting(con)
    stored = con.execute(
        "SELECT count(*) FROM raw.export_rows WHERE reason_code IS NOT NULL AND "
        "(note_hundredths IS NOT NULL OR moyenne_hundredths IS NOT NULL)"
    ).fetchone()[0]
    assert stored == 0


def test_check_export_shows_the_rectorat_its_own_value(tmp_path: Path) -> None:
    """What the nightly run never stores, `exams check-export` shows on the rectorat's
    machine: the text as written, so that it can be corrected."""
    from pipeline_support import pipeline_env, run_exams

    path = write_clean(tmp_path / "raw", n=2)
    lines = read_lines(path)
    set_field(lines, 2, statut="NOTE", note="9,9999999", session_origine="", forme="PONCTUEL")
    write_lines(path, lines)
    proc = run_exams("check-export", str(path), env=pipeline_env(tmp_path / "raw",
                     tmp_path / "wh" / "r.duckdb"), check=False)  # fmt: skip
    assert proc.returncode == 1
    assert "ligne 2 : NOTE_TOO_PRECISE — note — " in proc.stdout
    assert "valeur lue : « 9,9999999 »" in proc.stdout
