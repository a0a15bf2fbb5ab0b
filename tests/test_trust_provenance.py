"""Provenance on the committed sample's publication (conftest's `published_warehouse`: rows in
quarantine for seven reasons, a correction, a duplicate, a rejected file): every value of a mart
comes from loaded rows, the quarantine's details name a column and a rule but never a value,
and no candidate number or birth date reaches anything published. The raw files are read here
independently of the ingest (Python's csv module), with their physical line numbers.

(The property test of tests/test_ingest_property.py plants markers in quarantined rows and
looks for them in everything a run publishes.)"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from urllib.parse import quote

import duckdb
import pytest
from helpers import published_texts, read_export
from pipeline_support import SAMPLE_DIR

from exams.ingest.keys import candidate_key
from exams.ingest.rules import rules

KEY = b"test-key-not-secret"  # pipeline_support's
RULE_COLUMN = {r.code: r.column for r in rules() if r.column}


@pytest.fixture(scope="module")
def published(published_warehouse: Path):
    con = duckdb.connect(str(published_warehouse), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def valid_rows(published) -> dict[tuple[int, str, str], list[dict[str, str]]]:
    """(session, académie, candidate_key) -> the rows of LOADED files not in quarantine."""
    quarantined = set(published.execute(
        "SELECT file_name, line_number FROM audit.quarantine").fetchall())  # fmt: skip
    loaded = [n for (n,) in published.execute(
        "SELECT file_name FROM audit.file_manifest WHERE status = 'LOADED'").fetchall()]  # fmt: skip
    out: dict[tuple, list] = defaultdict(list)
    for name in loaded:
        for line, row in read_export(SAMPLE_DIR / name).items():
            if (name, line) not in quarantined and row["numero_candidat"]:
                key = candidate_key(row["numero_candidat"], KEY)
                out[(int(row["session"]), row["code_academie"], key)].append(row)
    return out


def test_the_sample_quarantines_rows_for_seven_reasons(published) -> None:
    reasons = published.execute(
        "SELECT count(DISTINCT reason_code) FROM audit.quarantine WHERE scope = 'row'"
    ).fetchone()[0]
    assert reasons >= 7


def test_a_quarantine_detail_names_the_column_and_rule_never_the_value(published) -> None:
    rows = published.execute(
        "SELECT file_name, line_number, reason_code, detail, reason_label FROM audit.quarantine "
        "WHERE scope = 'row'"
    ).fetchall()
    assert rows
    raw = {}
    for file_name, line, code, detail, label in rows:
        column = RULE_COLUMN[code]
        assert detail.startswith(f"{column} — {label[0].lower()}{label[1:]}"), (code, detail)
        if file_name not in raw:
            raw[file_name] = read_export(SAMPLE_DIR / file_name)
        value = raw[file_name][line][column]
        assert value and value not in detail.removeprefix(column), (code, value, detail)


def test_candidate_values_in_the_marts_come_from_loaded_rows(published, valid_rows) -> None:
    """A candidate's sex, category, reported decision and average are those of one of its
    loaded rows not in quarantine, never of a quarantined one; NULL when it has none."""
    columns = {"sex": "sexe", "candidate_category": "categorie_candidat",
               "reported_decision": "decision", "reported_average": "moyenne"}  # fmt: skip
    candidates = published.execute(
        f"SELECT session, academy_code, candidate_key, {', '.join(columns)} "
        "FROM marts.fct_candidate_session"
    ).fetchall()
    assert len(candidates) > 1000
    without_valid_row = 0
    for session, academy, key, *values in candidates:
        rows = valid_rows.get((session, academy, key), [])
        without_valid_row += not rows
        for (published_col, raw_col), value in zip(columns.items(), values, strict=True):
            seen = {r[raw_col] for r in rows if r[raw_col]}
            if published_col == "reported_average":
                seen = {round(float(v.replace(",", ".")), 2) for v in seen}
            if value is None:
                continue
            assert value in seen, (session, academy, key, published_col, value, seen)
    assert without_valid_row < len(candidates)


def test_establishments_come_from_loaded_rows(published, valid_rows) -> None:
    published_uai = defaultdict(set)
    for session, academy, uai in published.execute(
        "SELECT DISTINCT session, academy_code, uai_etablissement FROM marts.establishment_results"
    ).fetchall():
        published_uai[(session, academy)].add(uai)
    loaded_uai = defaultdict(lambda: {"NONE"})
    for (session, academy, _), rows in valid_rows.items():
        loaded_uai[(session, academy)] |= {r["uai_etablissement"] for r in rows
                                           if r["uai_etablissement"]}  # fmt: skip
    assert published_uai
    for group, uais in published_uai.items():
        assert uais <= loaded_uai[group], (group, uais - loaded_uai[group])


def test_no_candidate_number_or_birth_date_is_published(published_warehouse: Path) -> None:
    numbers, births = set(), set()
    for path in SAMPLE_DIR.iterdir():
        for row in read_export(path).values():
            numbers.add(row.get("numero_candidat", ""))
            births.add(row.get("date_naissance", ""))
    numbers.discard("")
    births.discard("")
    assert len(numbers) > 1000 and len(births) > 100
    extracts = published_warehouse.parent.parent / "extracts"
    number_like, date_like = re.compile(r"\d{11}"), re.compile(r"\d\d/\d\d/\d{4}")
    for where, text in published_texts(published_warehouse, extracts):
        assert not numbers & set(number_like.findall(text)), where
        assert not births & set(date_like.findall(text)), where


def test_published_file_names_are_percent_encoded(published) -> None:
    names = {n for (n,) in published.execute("SELECT file_name FROM audit.file_manifest")
             .fetchall()}  # fmt: skip
    assert names == {quote(p.name, safe="").replace("~", "%7E") for p in SAMPLE_DIR.iterdir()}
