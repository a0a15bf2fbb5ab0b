"""Ingestion: dialects, row rules with physical line numbers, file statuses, the invariant."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from helpers import (
    KEY,
    PLAIN,
    ingest,
    ingest_settings,
    parse,
    read_lines,
    run_ingest,
    set_field,
    write_clean,
    write_lines,
)

from exams import reference
from exams.generator import DIALECTS
from exams.ingest import keys
from exams.ingest import run as ingest_run


def quarantine(con) -> dict[int, str]:
    return dict(con.execute("SELECT line_number, reason_code FROM raw.quarantine").fetchall())


@pytest.mark.parametrize(
    "dialect",
    DIALECTS,
    ids=lambda d: (
        f"{d.encoding}{d.delimiter}"
        f"{d.decimal}{'crlf' if d.newline != chr(10) else 'lf'}{d.header_style}"
    ),
)
def test_every_dialect_reads_the_same_rows(tmp_path: Path, dialect) -> None:
    paths = {"a": write_clean(tmp_path / "a", dialect=PLAIN),
             "b": write_clean(tmp_path / "b", dialect=dialect)}  # fmt: skip
    rows, names = [], []
    for sub, path in paths.items():
        con = ingest(tmp_path / sub, tmp_path / f"s{sub}")
        assert con.execute("SELECT count(*) FROM raw.quarantine").fetchone()[0] == 0
        rows.append(con.execute(
            """SELECT line_number, numero_candidat, categorie_candidat, code_epreuve,
                statut, note_hundredths, session_origine, decision, moyenne_hundredths,
                candidate_key
            FROM raw.current_rows ORDER BY line_number""").fetchall())  # fmt: skip
        parsed = parse(path, tmp_path / f"p{sub}")
        names.append(parsed.execute(
            "SELECT line_number, nom, prenom FROM batch_rows ORDER BY line_number").fetchall()
        )  # fmt: skip
    assert rows[0] == rows[1]
    assert len(rows[0]) > 20
    assert names[0] == names[1]
    assert any("é" in n + p or "ë" in n + p or "è" in n + p for _, n, p in names[1])


def test_names_and_birth_dates_are_never_stored(tmp_path: Path) -> None:
    write_clean(tmp_path / "raw")
    con = ingest(tmp_path / "raw", tmp_path)
    columns = {c for (c,) in con.execute("SELECT column_name FROM duckdb_columns()").fetchall()}
    assert not columns & {"nom", "prenom", "date_naissance"}


def test_candidate_key_is_the_hmac_of_the_number(tmp_path: Path) -> None:
    write_clean(tmp_path / "raw")
    con = ingest(tmp_path / "raw", tmp_path)
    numero, key = con.execute(
        "SELECT numero_candidat, candidate_key FROM raw.current_rows LIMIT 1"
    ).fetchone()
    assert key == keys.candidate_key(numero, KEY)


ROW_CASES = {
    "NOTE_NOT_A_NUMBER": {"statut": "NOTE", "note": "abc"},
    "NOTE_OUT_OF_RANGE": {"statut": "NOTE", "note": "20,5"},
    "NOTE_TOO_PRECISE": {"statut": "NOTE", "note": "12,345"},
    "NOTE_MISSING": {"statut": "NOTE", "note": ""},
    "NOTE_NOT_ALLOWED": {"statut": "ABJ", "note": "12"},
    "UNKNOWN_STATUT": {"statut": "XX"},
    "UNKNOWN_EPREUVE": {"code_epreuve": "E9"},
    "UNKNOWN_CATEGORY": {"categorie_candidat": "FOO"},
    "INVALID_FORME": {"forme": "ORAL"},
    "INVALID_SEXE": {"sexe": "X"},
    "INVALID_UAI": {"uai_etablissement": "123"},
    "BEN_ORIGIN_MISSING": {"statut": "BEN", "note": "12", "session_origine": ""},
    "BEN_TOO_OLD": {"statut": "BEN", "note": "12", "session_origine": "2019"},
    "BEN_BELOW_10": {"statut": "BEN", "note": "9,5", "session_origine": "2024"},
    "ORIGIN_NOT_ALLOWED": {"statut": "NOTE", "note": "12", "session_origine": "2024"},
    "VA_OUTSIDE_VAE": {"statut": "VA", "note": "", "categorie_candidat": "SCOLAIRE_PUBLIC"},
    "DI_NOT_ALLOWED": {"code_epreuve": "E4", "statut": "DI", "note": ""},
    "CCF_NOT_ALLOWED": {"code_epreuve": "E1", "forme": "CCF"},
    "INVALID_DECISION": {"decision": "PASSED"},
    "INVALID_MOYENNE": {"moyenne": "12,5,0"},
    "MISSING_CANDIDATE_NUMBER": {"numero_candidat": ""},
}


@pytest.mark.parametrize("code", sorted(ROW_CASES))
def test_each_row_rule_quarantines_with_line_and_reason(tmp_path: Path, code: str) -> None:
    path = write_clean(tmp_path / "raw")
    lines = read_lines(path)
    # a row of the second candidate, for the épreuve the case names (E1 by default)
    epreuve = ROW_CASES[code].get("code_epreuve", "E1")
    epreuve = epreuve if epreuve in {"E1", "E4"} else "E1"
    target = next(i + 1 for i, f in enumerate(lines) if i >= 8 and f[9] == epreuve)
    values = {"statut": "NOTE", "note": "12", "session_origine": "", "forme": "PONCTUEL"}
    values.update(ROW_CASES[code])
    set_field(lines, target, **values)
    write_lines(path, lines)
    con = ingest(tmp_path / "raw", tmp_path)
    assert quarantine(con) == {target: code}
    assert reference.reason(code).scope == "row"
    total, loaded, quarantined = con.execute(
        "SELECT rows_total, rows_loaded, rows_quarantined FROM raw.file_manifest"
    ).fetchone()
    assert (total, loaded, quarantined) == (len(lines) - 1, len(lines) - 2, 1)


def test_duplicate_candidate_epreuve_keeps_the_first_line(tmp_path: Path) -> None:
    path = write_clean(tmp_path / "raw")
    lines = read_lines(path)
    lines.append(list(lines[1]))
    write_lines(path, lines)
    con = ingest(tmp_path / "raw", tmp_path)
    assert quarantine(con) == {len(lines): "DUPLICATE_EPREUVE"}


def test_ragged_row_is_quarantined_not_lost(tmp_path: Path) -> None:
    path = write_clean(tmp_path / "raw")
    lines = read_lines(path)
    lines[4] = lines[4][:-2]
    write_lines(path, lines)
    con = ingest(tmp_path / "raw", tmp_path)
    assert quarantine(con) == {5: "BAD_FIELD_COUNT"}


def test_line_numbers_are_physical_with_blank_lines_and_quoted_newlines(tmp_path: Path) -> None:
    path = write_clean(tmp_path / "raw")
    lines = read_lines(path)
    set_field(lines, 3, nom='"Dupont\nJunior"')  # the record spans lines 3–4
    set_field(lines, 10, statut="XX")  # becomes physical line 11, then 12 after the blank
    text = "\n".join(";".join(f) for f in lines[:6]) + "\n\n"
    text += "\n".join(";".join(f) for f in lines[6:]) + "\n\n\n"
    path.write_text(text, encoding="utf-8")
    con = ingest(tmp_path / "raw", tmp_path)
    assert quarantine(con) == {12: "UNKNOWN_STATUT"}
    assert con.execute("SELECT rows_total FROM raw.file_manifest").fetchone()[0] == len(lines) - 1
    parsed = parse(path, tmp_path / "p")
    assert parsed.execute("SELECT nom FROM batch_rows WHERE line_number = 3").fetchone() == (
        "Dupont\nJunior",
    )


def _reject(tmp_path: Path, edit, name: str | None = None) -> tuple[str, str, int, int]:
    path = write_clean(tmp_path / "raw", name=name)
    edit(path)
    con = ingest(tmp_path / "raw", tmp_path)
    status, reason, total, quarantined = con.execute(
        "SELECT status, reason_code, rows_total, rows_quarantined FROM raw.file_manifest"
    ).fetchone()
    lines = con.execute("SELECT count(*), min(line_number) FROM raw.quarantine").fetchone()
    assert status == "REJECTED" and total == quarantined and lines == (total, 2 if total else None)
    assert con.execute("SELECT count(*) FROM raw.current_rows").fetchone()[0] == 0
    return status, reason, total, quarantined


def _edit_field(line: int, **values: str):
    def edit(path: Path) -> None:
        lines = read_lines(path)
        set_field(lines, line, **values)
        write_lines(path, lines)

    return edit


@pytest.mark.parametrize(
    ("code", "edit", "name"),
    [
        ("BAD_FILE_NAME", lambda p: None, "NDRC_2025_10_final.csv"),
        ("SESSION_OUT_OF_RANGE", lambda p: None, "NDRC_2019_10_20190704T183000.csv"),
        ("UNKNOWN_ACADEMY", lambda p: None, "NDRC_2025_05_20250704T183000.csv"),
        ("ACADEMY_MISMATCH", _edit_field(7, code_academie="24"), None),
        ("SESSION_MISMATCH", _edit_field(7, session="2024"), None),
        (
            "MISSING_COLUMN",
            lambda p: p.write_text(p.read_text().replace(";statut;", ";status;", 1)),
            None,
        ),
        (
            "UNREADABLE_ENCODING",
            lambda p: p.write_bytes(p.read_bytes().replace(b"E3", b"E\x81")),
            None,
        ),
        ("NO_DATA_ROWS", lambda p: p.write_text(p.read_text().split("\n")[0] + "\n"), None),
    ],
)
def test_whole_file_rejections(tmp_path: Path, code: str, edit, name: str | None) -> None:
    _, reason, total, _ = _reject(tmp_path, edit, name)
    assert reason.startswith(code)


def test_corrections_supersede_duplicates_change_nothing_rejections_never_replace(
    tmp_path: Path,
) -> None:
    raw = tmp_path / "raw"
    first = write_clean(raw, name="NDRC_2025_10_20250704T183000.csv", seed=1)
    write_clean(raw, name="NDRC_2025_10_20250711T183000.csv", seed=2)
    shutil.copyfile(first, raw / "NDRC_2025_10_20250712T090000.csv")  # old bytes again
    bad = write_clean(raw, name="NDRC_2025_10_20250801T090000.csv", seed=3)
    bad.write_text(
        bad.read_text().replace(";2025;10;", ";2025;24;", 1).replace("\n2025;10;", "\n2025;24;", 1)
    )
    con = ingest(raw, tmp_path)
    status = dict(con.execute("SELECT file_name, status FROM raw.file_manifest").fetchall())
    assert status == {
        "NDRC_2025_10_20250704T183000.csv": "SUPERSEDED",
        "NDRC_2025_10_20250711T183000.csv": "LOADED",
        "NDRC_2025_10_20250712T090000.csv": "DUPLICATE",
        "NDRC_2025_10_20250801T090000.csv": "REJECTED",
    }
    loaded = con.execute("SELECT DISTINCT file_name FROM raw.current_rows").fetchall()
    assert loaded == [("NDRC_2025_10_20250711T183000.csv",)]
    counts = con.execute(
        "SELECT count(*) FROM raw.file_manifest WHERE rows_total <> rows_loaded + rows_quarantined"
    ).fetchone()
    assert counts == (0,)


def test_rerun_is_incremental_and_identical(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_clean(raw, seed=1)
    first = run_ingest(raw, tmp_path)
    second = run_ingest(raw, tmp_path)
    assert first.manifest_fingerprint == second.manifest_fingerprint
    write_clean(raw, session=2024, seed=2)
    third = run_ingest(raw, tmp_path)
    assert third.manifest_fingerprint != first.manifest_fingerprint and third.files == 2


def test_a_seed_correction_rechecks_cached_rows(tmp_path: Path, monkeypatch) -> None:
    """Making E1 CCF-possible in the reference data un-quarantines a cached CCF row."""
    seeds = tmp_path / "seeds"
    shutil.copytree(reference.SEEDS_DIR, seeds)
    monkeypatch.setattr(reference, "SEEDS_DIR", seeds)
    reference.rows.cache_clear()
    path = write_clean(tmp_path / "raw")
    lines = read_lines(path)
    target = next(i + 1 for i, f in enumerate(lines) if i >= 8 and f[9] == "E1")
    set_field(lines, target, forme="CCF", categorie_candidat="SCOLAIRE_PUBLIC")
    write_lines(path, lines)
    con = ingest(tmp_path / "raw", tmp_path)
    assert quarantine(con) == {target: "CCF_NOT_ALLOWED"}
    con.close()
    epreuves = seeds / "ref_epreuves.csv"
    epreuves.write_text(epreuves.read_text().replace(
        "E1,U1,,Culture générale et expression,3,true,false,true",
        "E1,U1,,Culture générale et expression,3,true,true,true"))  # fmt: skip
    reference.rows.cache_clear()
    con = ingest(tmp_path / "raw", tmp_path)
    assert quarantine(con) == {}
    assert con.execute("SELECT rows_quarantined FROM raw.file_manifest").fetchone()[0] == 0
    reference.rows.cache_clear()


def test_a_jury_average_above_20_is_valid(tmp_path: Path) -> None:
    """Optional-épreuve points can lift an average above 20 (e.g. 20 everywhere + EF1 at 20)."""
    path = write_clean(tmp_path / "raw")
    lines = read_lines(path)
    for i in range(2, 9):
        set_field(lines, i, moyenne="20,48")
    write_lines(path, lines)
    con = ingest(tmp_path / "raw", tmp_path)
    assert quarantine(con) == {}


def test_a_run_killed_before_its_rows_were_stored_is_redone(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_clean(raw)
    s = ingest_settings(raw, tmp_path)
    run_ingest(raw, tmp_path)
    con = ingest_run.connect(s)
    expected = con.execute("SELECT count(*) FROM raw.export_rows").fetchone()[0]
    # what a kill between parsing and flushing leaves: a file record without counts or rows
    con.execute("UPDATE ingest.files SET rows_total = NULL, rows_quarantined = NULL")
    con.execute("DELETE FROM raw.export_rows")
    con.close()
    run_ingest(raw, tmp_path)
    con = ingest_run.connect(s)
    assert con.execute("SELECT count(*) FROM raw.export_rows").fetchone()[0] == expected > 0
    assert con.execute("SELECT rows_total FROM raw.file_manifest").fetchone()[0] == expected


def test_a_new_key_rekeys_every_candidate(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_clean(raw)
    run_ingest(raw, tmp_path)
    con = ingest(raw, tmp_path, b"another key")
    pairs = con.execute("SELECT DISTINCT numero_candidat, candidate_key FROM raw.current_rows")
    pairs = pairs.fetchall()
    assert pairs and all(k == keys.candidate_key(n, b"another key") for n, k in pairs)


def test_a_state_of_an_older_layout_is_rebuilt(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_clean(raw)
    s = ingest_settings(raw, tmp_path)
    db = s.build_db
    db.parent.mkdir(parents=True)
    old = duckdb.connect(str(db))
    old.execute("CREATE SCHEMA ingest; CREATE SCHEMA raw")
    old.execute("CREATE TABLE ingest.meta (reference_fingerprint VARCHAR)")
    old.execute("CREATE TABLE raw.export_rows (file_name VARCHAR, nom VARCHAR)")
    old.execute("INSERT INTO raw.export_rows VALUES ('x.csv', 'Dupont')")
    old.close()
    result = run_ingest(raw, tmp_path)
    con = ingest_run.connect(s)
    assert result.rows_total == con.execute("SELECT count(*) FROM raw.export_rows").fetchone()[0]
    assert result.rows_total > 0 and result.rows_quarantined == 0
