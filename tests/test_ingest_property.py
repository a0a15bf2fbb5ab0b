"""Property: whatever is corrupted, every data row of every file is loaded or quarantined,
once, with its physical line number, and rows_total = rows_loaded + rows_quarantined."""

from __future__ import annotations

import tempfile
from pathlib import Path

from helpers import ingest, read_lines, write_clean
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exams.generator import COLUMNS

JUNK = ["", "abc", "-1", "20,01", "12,345", "XX", "E9", "CCF", "BEN", "VA", "DI", "AB", "2010",
        '"', ";", "é", "\u00a0", "99999"]  # fmt: skip

corruption = st.tuples(
    st.integers(min_value=2, max_value=30),  # line
    st.sampled_from(COLUMNS),
    st.sampled_from(JUNK),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=st.lists(corruption, max_size=6),
    drop_lines=st.lists(st.integers(min_value=2, max_value=30), max_size=2),
    blank_after=st.lists(st.integers(min_value=2, max_value=30), max_size=2),
)
def test_every_row_is_accounted_for(edits, drop_lines, blank_after) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        path = write_clean(tmp_path / "raw", n=5)
        lines = read_lines(path)
        for line, col, value in edits:
            if line <= len(lines):
                lines[line - 1][COLUMNS.index(col)] = value
        for line in drop_lines:  # ragged: a field missing
            if line <= len(lines):
                lines[line - 1] = lines[line - 1][:-1]
        out = []
        for i, fields in enumerate(lines, start=1):
            out.append(";".join(fields))
            if i in blank_after:
                out.append("")
        path.write_text("\n".join(out) + "\n", encoding="utf-8")

        con = ingest(tmp_path / "raw", tmp_path)
        total, loaded, quarantined, status = con.execute(
            "SELECT rows_total, rows_loaded, rows_quarantined, status FROM raw.file_manifest"
        ).fetchone()
        assert total == loaded + quarantined
        q = con.execute(
            "SELECT count(*), count(DISTINCT line_number) FROM raw.quarantine"
        ).fetchone()
        assert q == (quarantined, quarantined)
        if status != "REJECTED":
            ok = con.execute(
                "SELECT count(*) FROM raw.export_rows WHERE reason_code IS NULL"
            ).fetchone()[0]
            assert ok == loaded
            accounted = con.execute(
                "SELECT count(DISTINCT line_number) FROM raw.export_rows"
            ).fetchone()[0]
            assert accounted == total
        con.close()


# ---- no field of a quarantined row is ever published (warehouse-contract.md, Provenance) -----
#
# Rows are planted with a unique marker in every column: an invalid marker (ZZMARK<n>) in at
# least one column a rule checks (so that the row is quarantined) and in any number of the
# others, including the columns no rule reads (candidate number, names, birth date); a column
# left valid may get a marker that is a valid value (a unique UAI, a unique average), which is
# what a mart would show if a quarantined row leaked; a row may get an extra field, a marker;
# a file may get a marker in its session or académie column (then it is rejected whole).
# Then nothing published may hold a marker: no cell of any table of the published DuckDB file,
# no byte of the extracts (CSV, XLSX, Parquet, JSON) nor of the Data Docs and dbt docs.

import re  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import duckdb  # noqa: E402
from helpers import assert_accounting, published_texts, write_lines  # noqa: E402

from exams.ingest.rules import rules  # noqa: E402

BREAKERS = ["sexe", "uai_etablissement", "categorie_candidat", "code_epreuve", "forme", "statut",
            "note", "session_origine", "decision", "moyenne"]  # fmt: skip
UNCHECKED = ["numero_candidat", "nom", "prenom", "date_naissance"]  # no rule reads their text
RULE_COLUMN = {r.code: r.column for r in rules()}

plant = st.fixed_dictionaries({
    "line": st.integers(min_value=0, max_value=10_000),
    "breakers": st.sets(st.sampled_from(BREAKERS), min_size=1, max_size=4),
    "unchecked": st.sets(st.sampled_from(UNCHECKED)),
    "valid_uai": st.booleans(),
    "valid_moyenne": st.booleans(),
    "extra_field": st.booleans(),
})  # fmt: skip
export_plan = st.fixed_dictionaries({
    "plants": st.lists(plant, min_size=1, max_size=4),
    "whole_file": st.sampled_from([None, "session", "code_academie"]),
})  # fmt: skip


@dataclass
class Planted:
    markers: list[str] = field(default_factory=list)  # texts that must never be published
    lines: dict[str, set[int]] = field(default_factory=dict)  # file -> planted lines
    whole: set[str] = field(default_factory=set)  # files rejected whole by a marker

    def new(self, text: str) -> str:
        self.markers.append(text)
        return text

    def pattern(self) -> re.Pattern[str]:
        variants = set(self.markers) | {m.replace(",", ".") for m in self.markers}
        return re.compile("|".join(re.escape(v) for v in sorted(variants)))


def plant_rows(path: Path, plan: dict, planted: Planted) -> None:
    lines = read_lines(path)
    n = len(planted.markers)
    targets = set()
    for p in plan["plants"]:
        line = 2 + p["line"] % (len(lines) - 1)
        row = lines[line - 1]
        for col in sorted(p["breakers"] | p["unchecked"]):
            n += 1
            row[COLUMNS.index(col)] = planted.new(f"ZZMARK{n:04d}")
        if p["valid_uai"] and "uai_etablissement" not in p["breakers"]:
            n += 1
            row[COLUMNS.index("uai_etablissement")] = planted.new(f"99{n:05d}Q")
        if p["valid_moyenne"] and "moyenne" not in p["breakers"]:
            n += 1
            row[COLUMNS.index("moyenne")] = planted.new(f"{90000 + n},{n % 9 + 1}3")
        if p["extra_field"] and len(row) == len(COLUMNS):
            n += 1
            row.append(planted.new(f"ZZMARK{n:04d}"))
        targets.add(line)
    if plan["whole_file"]:
        n += 1
        lines[min(targets) - 1][COLUMNS.index(plan["whole_file"])] = planted.new(f"ZZMARK{n:04d}")
        planted.whole.add(path.name)
    write_lines(path, lines)
    planted.lines[path.name] = targets


def _quarantined_lines_hold_no_value(con: duckdb.DuckDBPyConnection, planted: Planted,
                                     quarantine: str) -> None:  # fmt: skip
    """Every planted line is in quarantine, its detail naming the column and the rule."""
    rows = con.execute(f"SELECT file_name, line_number, reason_code, detail FROM {quarantine}")
    found = {(f, line): (code, detail) for f, line, code, detail in rows.fetchall()}
    for name, lines in planted.lines.items():
        for line in lines:
            code, detail = found[(name, line)]
            column = RULE_COLUMN.get(code)
            if column:  # a row rule: "<column> — <the rule, in French>"
                assert detail.startswith(f"{column} — "), (code, detail)
            elif name not in planted.whole:
                assert code == "BAD_FIELD_COUNT", (code, detail)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans=st.lists(export_plan, min_size=1, max_size=2))
def test_a_quarantined_row_keeps_no_value(plans) -> None:
    """The build database itself keeps nothing of a quarantined row but its place and its
    candidate (the number stays private, in raw.candidate_keys)."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        planted = Planted()
        for i, plan in enumerate(plans):
            path = write_clean(tmp_path / "raw", academy=["10", "24"][i], n=4, seed=i)
            plant_rows(path, plan, planted)
        con = ingest(tmp_path / "raw", tmp_path)
        try:
            assert_accounting(con)
            _quarantined_lines_hold_no_value(con, planted, "raw.quarantine")
            pattern = planted.pattern()
            for table in ("raw.export_rows", "raw.quarantine", "ingest.rejected_rows",
                          "raw.file_manifest", "ingest.files", "ingest.night_files"):  # fmt: skip
                for row in con.execute(f"SELECT * FROM {table}").fetchall():
                    assert not pattern.search(repr(row)), (table, row)
        finally:
            con.close()


# two real runs of every stage (about 25 s each): the variety is in each run's three exports
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans=st.lists(export_plan, min_size=3, max_size=3))
def test_no_field_of_a_quarantined_row_is_published(plans) -> None:
    """A real `exams run` (ingest, dbt build, checks, publish, extracts) on planted exports."""
    publish_and_scan(plans)


def publish_and_scan(plans: list[dict]) -> None:
    from pipeline_support import pipeline_env, run_exams

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        planted = Planted()
        for i, plan in enumerate(plans):
            path = write_clean(tmp_path / "raw", academy=["10", "24", "70"][i], n=5, seed=i)
            plant_rows(path, plan, planted)
        warehouse = tmp_path / "wh" / "results.duckdb"
        run_exams("run", env=pipeline_env(tmp_path / "raw", warehouse, tmp_path / "extracts"))
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            assert_accounting(con, "audit.file_manifest", "audit.quarantine")
            _quarantined_lines_hold_no_value(con, planted, "audit.quarantine")
        finally:
            con.close()
        pattern = planted.pattern()
        for where, text in published_texts(warehouse, tmp_path / "extracts"):
            found = pattern.search(text)
            assert found is None, f"{found.group(0)} published in {where}"
