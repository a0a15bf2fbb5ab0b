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
