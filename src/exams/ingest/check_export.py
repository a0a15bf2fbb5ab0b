"""`exams check-export FILE…`: what a rectorat runs on its own machine before delivering.

The file goes through exactly the ingest checks (same code, in a throw-away in-memory database):
each problem is printed with its line, rule, what to do and — here only, on the rectorat's own
machine — the value read. Exit status 1 when a file would be rejected or would have rows in
quarantine or incomplete candidates, 0 otherwise.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb

from exams import reference, settings
from exams.ingest import state
from exams.ingest.files import scan
from exams.ingest.run import Ingest

MAX_PRINTED = 200


def _problems(con: duckdb.DuckDBPyConnection) -> tuple[tuple | None, list[tuple], int]:
    rejected = con.execute(
        "SELECT reject_code, reject_detail FROM ingest.files WHERE reject_code IS NOT NULL"
    ).fetchone()
    rows = con.execute(
        """SELECT line_number, reason_code, detail, raw_value FROM raw.export_rows
        WHERE reason_code IS NOT NULL ORDER BY line_number"""
    ).fetchall()
    total = con.execute("SELECT count(*) FROM raw.export_rows").fetchone()[0]
    return rejected, rows, total


def _incomplete_candidates(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return con.execute(
        """WITH m AS (SELECT epreuve_code FROM ref_epreuves WHERE is_mandatory),
        c AS (SELECT DISTINCT candidate_id FROM raw.export_rows WHERE candidate_id IS NOT NULL)
        SELECT k.numero_candidat, string_agg(m.epreuve_code, ', ' ORDER BY m.epreuve_code)
        FROM c CROSS JOIN m
        JOIN raw.candidate_keys AS k USING (candidate_id)
        WHERE NOT EXISTS (SELECT 1 FROM raw.export_rows r WHERE r.candidate_id =
            c.candidate_id AND r.code_epreuve = m.epreuve_code AND r.reason_code IS NULL)
        GROUP BY 1 ORDER BY 1"""
    ).fetchall()


def check_file(path: Path) -> bool:
    """Print the problems of one file; True when the file is clean."""
    print(f"== {path}")
    con = duckdb.connect()
    with tempfile.TemporaryDirectory(prefix="exams-check-") as tmp:
        s = settings.load(state_dir_override=Path(tmp), warehouse=Path(tmp) / "check.duckdb")
        state.init_schema(con)
        con.execute("ALTER TABLE raw.export_rows ADD COLUMN raw_value VARCHAR")
        reference.load_into(con)
        try:
            sf = scan(path, s.max_line_bytes)
        except OSError as e:
            print(f"  illisible : {e.strerror or e}")
            return False
        ingest = Ingest(con, s, b"check-export")
        pending = ingest.prepare(sf)
        if pending:
            from exams.ingest.store import load_batch

            load_batch(con, [pending], ingest.key, ingest.record, s.work_dir, s.max_line_bytes,
                       keep_values=True)  # fmt: skip
    rejected, rows, total = _problems(con)
    reasons = reference.reasons()
    if rejected:
        code, detail = rejected
        print(f"  FICHIER REJETÉ — {code} : {detail}")
        print(f"    règle : {reasons[code].label}")
        print(f"    à faire : {reasons[code].hint}")
        con.close()
        return False
    incomplete = _incomplete_candidates(con)
    con.close()
    for line, code, detail, value in rows[:MAX_PRINTED]:
        print(f"  ligne {line} : {code} — {detail} ; valeur lue : « {value or ''} » ; "
              f"à faire : {reasons[code].hint}")  # fmt: skip
    if len(rows) > MAX_PRINTED:
        print(f"  … et {len(rows) - MAX_PRINTED} de plus")
    for numero, missing in incomplete[:MAX_PRINTED]:
        print(f"  candidat {numero} : épreuve(s) obligatoire(s) manquante(s) ou en quarantaine : "
              f"{missing}")  # fmt: skip
    print(
        f"  bilan : {total} ligne(s) de données, {total - len(rows)} seraient chargées, "
        f"{len(rows)} iraient en quarantaine ; {len(incomplete)} candidat(s) incomplet(s)"
    )
    return not rows and not incomplete


def check_files(paths: list[Path]) -> int:
    ok = True
    for path in paths:
        if not path.is_file():
            print(f"== {path}\n  fichier introuvable")
            ok = False
            continue
        ok = check_file(path) and ok
    print("OK : prêt à être déposé" if ok else "PROBLÈMES : corrigez-les avant le dépôt")
    return 0 if ok else 1
