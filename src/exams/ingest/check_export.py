"""`exams check-export FILE…`: what a rectorat runs before delivering an export.

The file goes through exactly the ingest rules (same code, in a throw-away in-memory database):
each problem is printed with its line, rule and a hint, then a summary. Exit status 1 when a file
would be rejected or would have quarantined rows, 0 otherwise.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb

from exams.ingest import load
from exams.ingest.files import scan
from exams.ingest.rules import HINTS, REASONS

MAX_PRINTED = 200


def check_file(path: Path) -> bool:
    """Print the problems of one file; True when the file is clean."""
    con = duckdb.connect()
    load.init_schema(con)
    load.load_reference(con)
    with tempfile.TemporaryDirectory() as work:
        sf = scan(path)
        rules = load.AcademyRules(con)
        pending = load.prepare(con, sf, path.stat(), rules, Path(work))
        load.load_batch(con, [pending] if pending else [], b"check-export", Path(work))
    code, detail = con.execute("SELECT reject_code, reject_detail FROM ingest.files").fetchone()
    rows = con.execute(
        """SELECT line_number, reason_code, detail FROM raw.export_rows
        WHERE reason_code IS NOT NULL ORDER BY line_number"""
    ).fetchall()
    total = con.execute("SELECT count(*) FROM raw.export_rows").fetchone()[0]
    incomplete = _incomplete_candidates(con)
    con.close()
    print(f"== {path}")
    if code:
        print(f"  REJECTED whole file — {code}: {detail}")
        print(f"    rule: {REASONS.get(code, '')}")
        if code in HINTS:
            print(f"    hint: {HINTS[code]}")
        return False
    for line, reason, det in rows[:MAX_PRINTED]:
        hint = f" (hint: {HINTS[reason]})" if reason in HINTS else ""
        print(f"  line {line}: {reason} — {det}; rule: {REASONS.get(reason, '')}{hint}")
    if len(rows) > MAX_PRINTED:
        print(f"  … and {len(rows) - MAX_PRINTED} more")
    for numero, missing in incomplete[:MAX_PRINTED]:
        print(f"  candidate {numero}: missing mandatory épreuve(s) {missing}")
    print(
        f"  summary: {total} data row(s), {total - len(rows)} would load, {len(rows)} would go "
        f"to quarantine; {len(incomplete)} candidate(s) missing a mandatory épreuve"
    )
    return not rows and not incomplete


def _incomplete_candidates(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return con.execute(
        """WITH m AS (SELECT epreuve_code AS code_epreuve FROM ref_epreuves WHERE is_mandatory),
        c AS (SELECT DISTINCT candidate_id FROM raw.export_rows WHERE candidate_id IS NOT NULL)
        SELECT k.numero_candidat, string_agg(m.code_epreuve, ', ' ORDER BY m.code_epreuve)
        FROM c CROSS JOIN m
        JOIN raw.candidate_keys AS k USING (candidate_id)
        WHERE NOT EXISTS (SELECT 1 FROM raw.export_rows r WHERE r.candidate_id =
            c.candidate_id AND r.code_epreuve = m.code_epreuve AND r.reason_code IS NULL)
        GROUP BY 1 ORDER BY 1"""
    ).fetchall()


def check_files(paths: list[Path]) -> int:
    ok = True
    for path in paths:
        if not path.is_file():
            print(f"== {path}\n  no such file")
            ok = False
            continue
        ok = check_file(path) and ok
    print("OK: ready to deliver" if ok else "PROBLEMS: fix them before delivering")
    return 0 if ok else 1
