"""Store a batch of parsed files: the file-level checks, then the row rules and the keyed
hashes of every row of the batch in a handful of set-based statements, in one transaction (a
killed run leaves no half-stored batch)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from exams import reference
from exams.ingest import keys
from exams.ingest.files import FileName, FileRejected, ScannedFile, other_delimiter_detail
from exams.ingest.read import read_batch
from exams.ingest.rules import validation_sql
from exams.ingest.state import KEPT_IN_QUARANTINE, STORED, insert_rows

log = logging.getLogger(__name__)

# the columns read from a file: the required ones (names and birth dates, optional, are parsed
# for the field count and never kept)
READ = reference.required_export_columns()


@dataclass
class Pending:
    """A file whose name, encoding and header passed: its rows are read with its batch."""

    sf: ScannedFile
    fn: FileName


# one row per file of the batch, in one aggregation: its data rows, those with every field, and
# the rows (with every field) not of the académie or session named
FILE_LEVEL_SQL = """
WITH per_value AS (
    SELECT file_name, field_count_ok, code_academie, TRY_CAST(session AS INTEGER) AS session,
        count(*) AS n, min(line_number) AS first_line
    FROM batch_rows GROUP BY ALL
)
SELECT f.file_name, coalesce(sum(v.n), 0),
    coalesce(sum(v.n) FILTER (WHERE v.field_count_ok), 0),
    coalesce(sum(v.n) FILTER (WHERE v.field_count_ok AND v.code_academie <> f.academy_code), 0),
    min(v.first_line) FILTER (WHERE v.field_count_ok AND v.code_academie <> f.academy_code),
    coalesce(sum(v.n) FILTER (
        WHERE v.field_count_ok AND v.session IS DISTINCT FROM f.session), 0),
    min(v.first_line) FILTER (WHERE v.field_count_ok AND v.session IS DISTINCT FROM f.session)
FROM batch_files AS f LEFT JOIN per_value AS v USING (file_name)
GROUP BY f.file_name
"""


def _last_line_complete(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the last data line of a file has every field (asked for the few files whose last
    line has no terminator)."""
    row = con.execute(
        "SELECT field_count_ok FROM batch_rows WHERE file_name = ? "
        "ORDER BY line_number DESC LIMIT 1", [name],
    ).fetchone()  # fmt: skip
    return row is None or bool(row[0])


def _file_level(con: duckdb.DuckDBPyConnection, row: tuple, p: Pending) -> FileRejected | None:
    name, n, n_ok, bad_acad, first_acad, bad_sess, first_sess = row
    if n == 0:
        return FileRejected("NO_DATA_ROWS", "l'en-tête n'est suivi d'aucune ligne de données")
    if not p.sf.ends_with_terminator and not _last_line_complete(con, name):
        return FileRejected(
            "TRUNCATED_FILE",
            f"la dernière ligne ({p.sf.lines}) s'arrête sans fin de ligne et il lui manque des "
            "champs",
        )
    if n_ok == 0:
        detail = other_delimiter_detail(p.sf)
        if detail:
            return FileRejected("DELIMITER_MISMATCH", detail)
        return FileRejected(
            "MALFORMED_CSV", f"aucune ligne n'a les {len(p.sf.header)} champs de l'en-tête"
        )
    if bad_acad:
        return FileRejected(
            "ACADEMY_MISMATCH",
            f"{bad_acad} ligne(s) (la première ligne {first_acad}) ne sont pas de l'académie "
            f"{p.fn.academy_code} du nom de fichier",
        )
    if bad_sess:
        return FileRejected(
            "SESSION_MISMATCH",
            f"{bad_sess} ligne(s) (la première ligne {first_sess}) ne sont pas de la session "
            f"{p.fn.session} du nom de fichier",
        )
    return None


def _stored_columns(keep_values: bool) -> str:
    """The stored columns over the checked row `v`: a row in quarantine keeps only its place
    and its candidate (KEPT_IN_QUARANTINE), never a value."""
    exprs = [
        f"{expr} AS {name}" if name in KEPT_IN_QUARANTINE
        else f"CASE WHEN v.reason_code IS NULL THEN {expr} END AS {name}"
        for name, _, expr in STORED
    ]  # fmt: skip
    if keep_values:
        exprs.append("v.value AS raw_value")
    return ", ".join(exprs)


def load_batch(
    con: duckdb.DuckDBPyConnection,
    batch: list[Pending],
    key: bytes,
    record: Callable[..., None],
    work: Path,
    max_line_bytes: int,
    keep_values: bool = False,
    for_tonight: Callable[[str, str, str], None] | None = None,
) -> None:
    """Read, check and store the rows of many files; `record(pending, rejection, total,
    quarantined, candidates)` records each file. A file found changed or gone since its scan
    goes to `for_tonight(name, code, detail)` when given: rejected for the night with no
    sha256 and no rows, as when the scan finds it (its bytes vouch for nothing). `keep_values`
    (check-export only) stores the text each rule checked in `raw_value`."""
    if not batch:
        return
    by_name = {p.sf.path.name: p for p in batch}
    rows, unparsable = read_batch(con, [p.sf for p in batch], READ, work, max_line_bytes)
    for name, p in by_name.items():  # what was parsed must be what was scanned
        problem = _changed_since_scan(p.sf)
        if problem and name not in unparsable:
            unparsable[name] = FileRejected("UNREADABLE_FILE", problem)
    try:
        _store(con, by_name, unparsable, key, record, keep_values, for_tonight)
    finally:
        rows.drop()
        con.execute("DROP VIEW IF EXISTS batch_accepted")
        for table in ("batch_files", "batch_rejected"):
            con.execute(f"DROP TABLE IF EXISTS {table}")


def _store(
    con: duckdb.DuckDBPyConnection,
    by_name: dict[str, Pending],
    unparsable: dict[str, FileRejected],
    key: bytes,
    record: Callable[..., None],
    keep_values: bool,
    for_tonight: Callable[[str, str, str], None] | None,
) -> None:
    con.execute(
        "CREATE OR REPLACE TEMP TABLE batch_files "
        "(file_name VARCHAR, session INTEGER, academy_code VARCHAR)"
    )
    readable = [(n, p.fn.session, p.fn.academy_code) for n, p in by_name.items()
                if n not in unparsable]  # fmt: skip
    insert_rows(con, "batch_files", readable)
    rejected = dict(unparsable)
    for row in con.execute(FILE_LEVEL_SQL).fetchall():  # one row per file
        rejection = _file_level(con, row, by_name[row[0]])
        if rejection:
            rejected[row[0]] = rejection
    con.execute("CREATE OR REPLACE TEMP TABLE batch_rejected (file_name VARCHAR)")
    insert_rows(con, "batch_rejected", [(n,) for n in rejected])
    con.execute(
        "CREATE OR REPLACE TEMP VIEW batch_accepted AS SELECT * FROM batch_rows "
        "WHERE file_name NOT IN (SELECT file_name FROM batch_rejected)"
    )
    con.execute("BEGIN TRANSACTION")
    try:
        _store_rows(con, by_name, unparsable, rejected, key, record, keep_values, for_tonight)
    except BaseException:
        con.execute("ROLLBACK")  # a killed or failed store leaves no half-stored batch
        raise
    con.execute("COMMIT")


def _store_rows(
    con: duckdb.DuckDBPyConnection,
    by_name: dict[str, Pending],
    unparsable: dict[str, FileRejected],
    rejected: dict[str, FileRejected],
    key: bytes,
    record: Callable[..., None],
    keep_values: bool,
    for_tonight: Callable[[str, str, str], None] | None,
) -> None:
    for name, rejection in rejected.items():
        p = by_name[name]
        if rejection.code == "UNREADABLE_FILE" and for_tonight is not None:
            for_tonight(name, rejection.code, rejection.detail)
            continue
        lines = (
            every_line(p.sf) if name in unparsable
            else "SELECT line_number FROM batch_rows WHERE file_name = $name"
        )  # fmt: skip
        n = reject_rows(con, p.sf, rejection, lines)
        record(p, rejection, n, n, 0)
    # rows carry their line number: no need to keep their order, the store runs in parallel
    con.execute("SET preserve_insertion_order = false")
    keys.add_keys(con, "batch_accepted", key)
    con.execute(
        f"""INSERT INTO raw.export_rows BY NAME
        SELECT v.file_name, v.line_number, {_stored_columns(keep_values)}, v.reason_code,
            v.detail
        FROM ({validation_sql("batch_accepted", with_values=keep_values)}) AS v
        LEFT JOIN raw.candidate_keys AS k ON k.numero_candidat = v.numero_candidat"""
    )
    con.execute("RESET preserve_insertion_order")
    accepted = [n for n in by_name if n not in rejected]
    # per file: its rows, those in quarantine, and the candidates it registers (distinct
    # candidate numbers, counted on their integer ids)
    counts = {
        name: (total, quarantined, candidates)
        for name, total, quarantined, candidates in con.execute(
            """SELECT file_name, count(*), count(*) FILTER (WHERE reason_code IS NOT NULL),
                count(DISTINCT candidate_id)
            FROM raw.export_rows WHERE file_name IN ? GROUP BY 1""",
            [accepted],
        ).fetchall()
    } if accepted else {}  # fmt: skip
    for name in accepted:
        record(by_name[name], None, *counts.get(name, (0, 0, 0)))


def _changed_since_scan(sf: ScannedFile) -> str | None:
    try:
        st = os.stat(sf.path)
    except OSError as e:
        return f"le fichier a disparu pendant sa lecture ({e.strerror})"
    if (st.st_size, st.st_mtime_ns) != (sf.size, sf.mtime_ns):
        return "le fichier a changé pendant sa lecture"
    return None


def every_line(sf: ScannedFile) -> str:
    """Every physical line after the header, for a file whose rows cannot be parsed."""
    return f"SELECT range AS line_number FROM range(2, {max(sf.lines, 1) + 1})"


def reject_rows(
    con: duckdb.DuckDBPyConnection, sf: ScannedFile, rejection: FileRejected, lines: str
) -> int:
    """A file rejected whole: each of its data lines (`lines`, a query of line_number; it may
    use $name) quarantined with the file's reason; returns their number."""
    con.execute(
        f"""INSERT INTO ingest.rejected_rows
        SELECT $name, $sha, line_number, $code, $detail FROM ({lines})""",
        {"name": sf.path.name, "sha": sf.sha256, "code": rejection.code,
         "detail": rejection.detail},
    )  # fmt: skip
    log.warning("%s: REJECTED (%s: %s)", sf.path.name, rejection.code, rejection.detail)
    return con.execute(
        "SELECT count(*) FROM ingest.rejected_rows WHERE file_name = ? AND sha256 = ?",
        [sf.path.name, sf.sha256],
    ).fetchone()[0]
