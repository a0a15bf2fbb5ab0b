"""Ingest: every file of the raw folder into the private build database, nothing lost.

State (private `build.duckdb`, never served):
- `ingest.files`      one row per (file_name, sha256) ever parsed: the parse cache;
- `raw.export_rows`   every data row of every readable file, with its line number, the keyed
                      candidate_key and, for a rejected row, its reason_code and detail;
- `ingest.rejected_rows` one row per data row of a file rejected whole;
- `raw.file_manifest` recomputed each run from the files present in the raw folder:
                      LOADED / SUPERSEDED / DUPLICATE / REJECTED, with the row counts;
- `raw.quarantine`    (view) every rejected row, file- and row-level;
- `raw.current_rows`  (view) the rows of LOADED files: what dbt's staging reads.

The raw folder is the archive of deliveries: the manifest lists the files it holds, so the same
folder always gives the same tables (a file removed from it is forgotten).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from exams.ingest.files import (
    COLUMNS,
    FileName,
    FileRejected,
    ScannedFile,
    parse_name,
    read_header,
    scan,
    transcode_to_utf8,
)
from exams.ingest.rules import validation_sql
from exams.progress import Progress, log
from exams.settings import SEEDS_DIR

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS ingest;
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS ref;
CREATE TABLE IF NOT EXISTS ingest.files (
    file_name VARCHAR, sha256 VARCHAR, size BIGINT, mtime_ns BIGINT,
    session INTEGER, academy_code VARCHAR, exported_at TIMESTAMP,
    encoding VARCHAR, delimiter VARCHAR,
    reject_code VARCHAR, reject_detail VARCHAR,
    rows_total BIGINT, rows_quarantined BIGINT
);
CREATE TABLE IF NOT EXISTS ingest.rejected_rows (
    file_name VARCHAR, sha256 VARCHAR, line_number BIGINT, reason_code VARCHAR, detail VARCHAR
);
CREATE TABLE IF NOT EXISTS raw.export_rows (
    file_name VARCHAR, sha256 VARCHAR, line_number BIGINT,
    {cols},
    field_count_ok BOOLEAN, candidate_key VARCHAR, reason_code VARCHAR, detail VARCHAR
);
CREATE TABLE IF NOT EXISTS ingest.meta (reference_fingerprint VARCHAR);
""".format(cols=", ".join(f"{c} VARCHAR" for c in COLUMNS))

SEEDS = [
    "ref_epreuves", "ref_candidate_categories", "ref_statuses", "ref_academies", "ref_exam_rules",
]  # fmt: skip


@dataclass
class IngestResult:
    changed: bool
    files: int
    loaded: int
    rejected: int
    rows_total: int
    rows_quarantined: int
    fingerprint: str

    def as_json(self) -> str:
        return json.dumps(self.__dict__)


def connect(build_db: Path) -> duckdb.DuckDBPyConnection:
    build_db.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(build_db))
    con.execute(SCHEMA)
    return con


def load_reference(con: duckdb.DuckDBPyConnection) -> None:
    """The dbt seeds, read as they are: one source of truth for ingest rules and models."""
    text_columns = {"ref_academies": "academy_code", "ref_exam_rules": "value"}
    for seed in SEEDS:
        path = SEEDS_DIR / f"{seed}.csv"
        types = f", types = {{'{text_columns[seed]}': 'VARCHAR'}}" if seed in text_columns else ""
        con.execute(
            f"CREATE OR REPLACE TABLE ref.{seed} AS SELECT * FROM read_csv(?, header = true{types})",
            [str(path)],
        )


def reference_fingerprint() -> str:
    digest = hashlib.sha256()
    for seed in SEEDS:
        digest.update((SEEDS_DIR / f"{seed}.csv").read_bytes())
    return digest.hexdigest()


def revalidate_if_reference_changed(con: duckdb.DuckDBPyConnection) -> None:
    """A rectorat corrected a seed (e.g. a category's CCF eligibility): the cached rows of
    every file are checked again against the new reference data, set-based."""
    current = reference_fingerprint()
    stored = con.execute("SELECT max(reference_fingerprint) FROM ingest.meta").fetchone()[0]
    if stored == current:
        return
    if stored is not None:
        log("reference data changed: re-checking every cached row against it")
        source = "(SELECT * EXCLUDE (reason_code, detail) FROM raw.export_rows)"
        con.execute(f"CREATE OR REPLACE TEMP TABLE revalidated AS {validation_sql(source)}")
        con.execute("DELETE FROM raw.export_rows")
        con.execute("INSERT INTO raw.export_rows BY NAME SELECT * FROM revalidated")
        con.execute("DROP TABLE revalidated")
        con.execute(
            """UPDATE ingest.files f SET rows_quarantined = (
                SELECT count(*) FROM raw.export_rows r
                WHERE r.file_name = f.file_name AND r.reason_code IS NOT NULL)
            WHERE f.reject_code IS NULL"""
        )
    con.execute("DELETE FROM ingest.meta")
    con.execute("INSERT INTO ingest.meta VALUES (?)", [current])


def _key_pads(key: bytes) -> tuple[str, str]:
    """HMAC-SHA256 inner and outer pads (hex), so the keyed hash runs inside DuckDB."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    k = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in k).hex(), bytes(b ^ 0x5C for b in k).hex()


def hmac_sql(column: str, key: bytes) -> str:
    ipad, opad = _key_pads(key)
    return f"sha256(unhex('{opad}') || unhex(sha256(unhex('{ipad}') || encode({column}))))"


def candidate_key(numero: str, key: bytes) -> str:
    """The same keyed hash in Python (tests and one-off look-ups)."""
    return hmac.new(key, numero.encode(), hashlib.sha256).hexdigest()


def _read_rows(con: duckdb.DuckDBPyConnection, sf: ScannedFile, work: Path) -> None:
    """Parse the file into temp table `file_rows` (canonical varchar columns, line numbers)."""
    source = sf.utf8_path or sf.path
    ncols = len(sf.header)
    names = [f"c{i}" for i in range(ncols)]
    select = _canonical_select(sf.header)
    _drop_file_tables(con)
    try:
        # materialised as DuckDB reads it: a table's rowid is the file order (physical line)
        con.execute(
            f"""CREATE TEMP TABLE file_raw AS
            SELECT * FROM read_csv(?, header = false, skip = 1, delim = ?, quote = '"',
                escape = '"', all_varchar = true, null_padding = true, nullstr = '\x01',
                columns = {{{", ".join(f"'{n}': 'VARCHAR'" for n in names)}}},
                auto_detect = false, strict_mode = true, parallel = true)""",
            [str(source), sf.delimiter],
        )
        con.execute(
            f"""CREATE TEMP VIEW file_rows AS
            SELECT rowid + 2 AS line_number, {select},
                ({" AND ".join(f"c{i} IS NOT NULL" for i in range(ncols))}) AS field_count_ok
            FROM file_raw"""
        )
        n = con.execute("SELECT count(*) FROM file_rows").fetchone()[0]
        if n == sf.lines - 1:
            return
        log(f"{sf.path.name}: {n} records for {sf.lines - 1} lines; re-reading line by line")
    except duckdb.Error as e:
        log(f"{sf.path.name}: DuckDB could not parse it ({str(e).splitlines()[0]}); "
            "re-reading line by line")  # fmt: skip
    _read_rows_slow(con, sf, work)


def _canonical_select(header: list[str]) -> str:
    pos = {name: i for i, name in enumerate(header) if name in COLUMNS}
    return ", ".join(
        f"coalesce(trim(c{pos[c]}), '') AS {c}" if c in pos else f"'' AS {c}" for c in COLUMNS
    )


def _read_rows_slow(con: duckdb.DuckDBPyConnection, sf: ScannedFile, work: Path) -> None:
    """Line-exact fallback for odd files (blank lines, quoted newlines, ragged rows): Python's
    csv module records the physical line of each record, written to a clean CSV for DuckDB."""
    source = sf.utf8_path or sf.path
    ncols = len(sf.header)
    tmp = work / f"{sf.sha256}.lines.csv"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    try:
        with (
            open(source, encoding="utf-8-sig", newline="") as fin,
            open(tmp, "w", encoding="utf-8", newline="") as fout,
        ):
            reader = csv.reader(fin, delimiter=sf.delimiter, strict=True)
            writer = csv.writer(fout, delimiter=";")
            next(reader)
            start = reader.line_num + 1
            for rec in reader:  # only reached for malformed files
                if rec and any(v.strip() for v in rec):
                    ok = len(rec) == ncols
                    rec = (rec + [""] * ncols)[:ncols]
                    writer.writerow([start, int(ok), *rec])
                start = reader.line_num + 1
    except csv.Error as e:
        raise FileRejected("MALFORMED_CSV", f"line {start}: {e}") from e
    names = ["line_number", "ok"] + [f"c{i}" for i in range(ncols)]
    _drop_file_tables(con)
    con.execute(
        f"""CREATE TEMP TABLE file_raw AS
        SELECT * FROM read_csv(?, header = false, delim = ';', quote = '"', escape = '"',
            all_varchar = true, nullstr = '\x01', auto_detect = false,
            columns = {{{", ".join(f"'{n}': 'VARCHAR'" for n in names)}}})""",
        [str(tmp)],
    )
    con.execute(
        f"""CREATE TEMP VIEW file_rows AS
        SELECT line_number::BIGINT AS line_number, {_canonical_select(sf.header)},
            ok = '1' AS field_count_ok
        FROM file_raw"""
    )
    tmp.unlink()


def _drop_file_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("DROP VIEW IF EXISTS file_rows")
    con.execute("DROP TABLE IF EXISTS file_raw")


def _valid_academy(con: duckdb.DuckDBPyConnection, fn: FileName) -> None:
    lo, hi = con.execute(
        "SELECT max(CASE WHEN rule = 'first_session' THEN value END)::INTEGER, "
        "max(CASE WHEN rule = 'last_session' THEN value END)::INTEGER FROM ref.ref_exam_rules"
    ).fetchone()
    if not lo <= fn.session <= hi:
        raise FileRejected("SESSION_OUT_OF_RANGE", f"session {fn.session} outside {lo}–{hi}")
    ok = con.execute(
        "SELECT count(*) FROM ref.ref_academies WHERE academy_code = ? "
        "AND coalesce(first_session, 0) <= ? AND ? <= coalesce(last_session, 9999)",
        [fn.academy_code, fn.session, fn.session],
    ).fetchone()[0]
    if not ok:
        raise FileRejected(
            "UNKNOWN_ACADEMY", f"académie '{fn.academy_code}' is not valid for {fn.session}"
        )


def _check_file_level(con: duckdb.DuckDBPyConnection, fn: FileName) -> None:
    n, bad_acad, bad_sess, first_acad, first_sess = con.execute(
        """SELECT count(*),
            count(*) FILTER (WHERE code_academie <> ?),
            count(*) FILTER (WHERE TRY_CAST(session AS INTEGER) IS DISTINCT FROM ?),
            min(line_number) FILTER (WHERE code_academie <> ?),
            min(line_number) FILTER (WHERE TRY_CAST(session AS INTEGER) IS DISTINCT FROM ?)
        FROM file_rows""",
        [fn.academy_code, fn.session, fn.academy_code, fn.session],
    ).fetchone()
    if n == 0:
        raise FileRejected("NO_DATA_ROWS", "the file has a header but no data row")
    if bad_acad:
        raise FileRejected(
            "ACADEMY_MISMATCH",
            f"{bad_acad} row(s) (first on line {first_acad}) are not for académie "
            f"{fn.academy_code} named in the file name",
        )
    if bad_sess:
        raise FileRejected(
            "SESSION_MISMATCH",
            f"{bad_sess} row(s) (first on line {first_sess}) are not for session {fn.session} "
            "named in the file name",
        )


def process_file(
    con: duckdb.DuckDBPyConnection, sf: ScannedFile, fn: FileName, key: bytes, work: Path
) -> tuple[str | None, str | None]:
    """Parse, check and store one new file. Returns (reject_code, reject_detail)."""
    name = sf.path.name
    try:
        if sf.encoding is None:
            raise FileRejected("UNREADABLE_ENCODING", "neither UTF-8 nor Windows-1252")
        _valid_academy(con, fn)
        if sf.encoding == "cp1252":
            sf.utf8_path = work / f"{sf.sha256}.utf8.csv"
            transcode_to_utf8(sf.path, sf.utf8_path, "cp1252")
        read_header(sf)
        _read_rows(con, sf, work)
        _check_file_level(con, fn)
    except FileRejected as rej:
        lines = _rejected_lines(con, sf)
        con.execute(
            f"""INSERT INTO ingest.rejected_rows
            SELECT ?, ?, line_number, ?, ? FROM ({lines})""",
            [name, sf.sha256, rej.code, rej.detail],
        )
        return rej.code, rej.detail
    finally:
        if sf.utf8_path and sf.utf8_path.exists():
            sf.utf8_path.unlink()
    # rows wait in `pending_rows`; flush_pending() validates and stores them in one statement
    # for many files (per-file statements cost more than the rows of a small file)
    con.execute(
        "CREATE TEMP TABLE IF NOT EXISTS pending_rows AS "
        "SELECT ''::VARCHAR AS file_name, ''::VARCHAR AS sha256, * FROM file_rows LIMIT 0"
    )
    con.execute(
        "INSERT INTO pending_rows BY NAME SELECT ? AS file_name, ? AS sha256, * FROM file_rows",
        [name, sf.sha256],
    )
    return None, None


FLUSH_ROWS = 4_000_000  # bounded memory: flush the pending rows past this many


def pending_count(con: duckdb.DuckDBPyConnection) -> int:
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'pending_rows' AND temporary"
    ).fetchone()[0]
    return con.execute("SELECT count(*) FROM pending_rows").fetchone()[0] if exists else 0


def flush_pending(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    """Validate the pending rows of every parsed file at once (set-based), with the keyed hash
    once per candidate, then record each file's row counts."""
    if not pending_count(con):
        con.execute("DROP TABLE IF EXISTS pending_rows")
        return
    con.execute(
        f"""INSERT INTO raw.export_rows BY NAME
        WITH keys AS (
            SELECT numero_candidat, {hmac_sql("numero_candidat", key)} AS candidate_key
            FROM (SELECT DISTINCT numero_candidat FROM pending_rows WHERE numero_candidat <> '')
        )
        SELECT v.*, keys.candidate_key
        FROM ({validation_sql("pending_rows")}) AS v
        LEFT JOIN keys USING (numero_candidat)"""
    )
    con.execute(
        """UPDATE ingest.files AS f SET rows_total = c.total, rows_quarantined = c.quarantined
        FROM (
            SELECT file_name, sha256, count(*) AS total,
                count(*) FILTER (WHERE reason_code IS NOT NULL) AS quarantined
            FROM raw.export_rows
            WHERE (file_name, sha256) IN (SELECT DISTINCT file_name, sha256 FROM pending_rows)
            GROUP BY ALL
        ) AS c
        WHERE f.file_name = c.file_name AND f.sha256 = c.sha256"""
    )
    con.execute("DROP TABLE pending_rows")


def _rejected_lines(con: duckdb.DuckDBPyConnection, sf: ScannedFile) -> str:
    """Line numbers of a rejected file's data rows: parsed ones if we got that far, else every
    physical line after the header."""
    parsed = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name = 'file_rows' AND temporary"
    ).fetchone()[0]
    if parsed and sf.header:
        return "SELECT line_number FROM file_rows"
    return f"SELECT range AS line_number FROM range(2, {max(sf.lines, 1) + 1})"


def run(
    raw_dir: Path, build_db: Path, work: Path, key: bytes, extra_fingerprint: str = ""
) -> IngestResult:
    """Bring the build database in line with the raw folder; recompute the manifest."""
    if not raw_dir.is_dir():
        raise SystemExit(f"raw folder {raw_dir} does not exist (EXAMS_RAW_DIR)")
    con = connect(build_db)
    load_reference(con)
    revalidate_if_reference_changed(con)
    _forget_unfinished(con)
    paths = sorted(p for p in raw_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    cached = {
        (r[0], r[1], r[2]): r[3]
        for r in con.execute(
            "SELECT file_name, size, mtime_ns, sha256 FROM ingest.files"
        ).fetchall()
    }
    present: list[tuple[str, str]] = []
    with Progress("ingest", total=len(paths)) as progress:
        for path in paths:
            st = path.stat()
            sha = cached.get((path.name, st.st_size, st.st_mtime_ns))
            if sha is None:
                sf = scan(path)
                sha = sf.sha256
                known = con.execute(
                    "SELECT count(*) FROM ingest.files WHERE file_name = ? AND sha256 = ?",
                    [path.name, sha],
                ).fetchone()[0]
                if known:
                    con.execute(
                        "UPDATE ingest.files SET size = ?, mtime_ns = ? "
                        "WHERE file_name = ? AND sha256 = ?",
                        [st.st_size, st.st_mtime_ns, path.name, sha],
                    )
                else:
                    _forget(con, path.name)
                    _ingest_new(con, sf, st, key, work)
                    if pending_count(con) >= FLUSH_ROWS:
                        flush_pending(con, key)
            present.append((path.name, sha))
            progress.advance(path.name)
    flush_pending(con, key)
    _forget_absent(con, present)
    _build_manifest(con)
    result = _summary(con, build_db, extra_fingerprint)
    con.close()
    return result


def _ingest_new(con: duckdb.DuckDBPyConnection, sf: ScannedFile, st: os.stat_result,
                key: bytes, work: Path) -> None:  # fmt: skip
    name = sf.path.name
    try:
        fn = parse_name(name)
    except FileRejected as rej:
        fn = FileName()
        code, detail = rej.code, rej.detail
        con.execute(
            f"INSERT INTO ingest.rejected_rows SELECT ?, ?, range, ?, ? "
            f"FROM range(2, {max(sf.lines, 1) + 1})",
            [name, sf.sha256, code, detail],
        )
    else:
        code, detail = process_file(con, sf, fn, key, work)
    # accepted files get their counts when their pending rows are flushed
    total = quarantined = None
    if code:
        total, quarantined = con.execute(
            "SELECT count(*), count(*) FROM ingest.rejected_rows WHERE file_name = ? "
            "AND sha256 = ?",
            [name, sf.sha256],
        ).fetchone()
    con.execute(
        "INSERT INTO ingest.files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [name, sf.sha256, st.st_size, st.st_mtime_ns, fn.session, fn.academy_code,
         fn.exported_at, sf.encoding, sf.delimiter if sf.header else None, code, detail,
         total, quarantined],
    )  # fmt: skip
    _drop_file_tables(con)
    if code:
        log(f"{name}: REJECTED ({code}: {detail})")


def _forget_unfinished(con: duckdb.DuckDBPyConnection) -> None:
    """A run killed before its pending rows were flushed left files without counts: they are
    parsed again."""
    for (name,) in con.execute(
        "SELECT file_name FROM ingest.files WHERE rows_total IS NULL"
    ).fetchall():
        _forget(con, name)


def _forget(con: duckdb.DuckDBPyConnection, name: str) -> None:
    for table in ("ingest.files", "ingest.rejected_rows", "raw.export_rows"):
        con.execute(f"DELETE FROM {table} WHERE file_name = ?", [name])


def _forget_absent(con: duckdb.DuckDBPyConnection, present: list[tuple[str, str]]) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE present (file_name VARCHAR, sha256 VARCHAR)")
    con.executemany("INSERT INTO present VALUES (?, ?)", present)
    for table in ("ingest.files", "ingest.rejected_rows", "raw.export_rows"):
        con.execute(
            f"DELETE FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM present p "
            "WHERE p.file_name = t.file_name AND p.sha256 = t.sha256)"
        )


MANIFEST_SQL = """
CREATE OR REPLACE TABLE raw.file_manifest AS
WITH files AS (
    SELECT *,
        -- identical bytes already delivered under an earlier name (not rejected)
        first_value(file_name) OVER (
            PARTITION BY sha256, reject_code IS NULL ORDER BY exported_at, file_name
        ) AS first_same_bytes
    FROM ingest.files
),
ranked AS (
    SELECT *,
        CASE
            WHEN reject_code IS NOT NULL THEN 'REJECTED'
            WHEN first_same_bytes <> file_name THEN 'DUPLICATE'
        END AS pre_status
    FROM files
),
latest AS (
    SELECT *,
        first_value(file_name) OVER (
            PARTITION BY session, academy_code, pre_status IS NULL
            ORDER BY exported_at DESC, file_name DESC
        ) AS latest_file
    FROM ranked
)
SELECT
    file_name, sha256, session, academy_code, exported_at,
    coalesce(pre_status, CASE WHEN latest_file = file_name THEN 'LOADED' ELSE 'SUPERSEDED' END)
        AS status,
    rows_total,
    CASE WHEN pre_status = 'REJECTED' THEN 0 ELSE rows_total - rows_quarantined END
        AS rows_loaded,
    rows_quarantined,
    CASE
        WHEN pre_status = 'REJECTED' THEN reject_code || ': ' || reject_detail
        WHEN pre_status = 'DUPLICATE' THEN 'same bytes as ' || first_same_bytes
        WHEN latest_file <> file_name THEN 'superseded by ' || latest_file
    END AS reason
FROM latest
ORDER BY session, academy_code, exported_at, file_name;

CREATE OR REPLACE VIEW raw.quarantine AS
SELECT file_name, line_number, reason_code, detail, numero_candidat, session, code_academie
FROM raw.export_rows WHERE reason_code IS NOT NULL
UNION ALL
SELECT file_name, line_number, reason_code, detail, NULL, NULL, NULL FROM ingest.rejected_rows;

CREATE OR REPLACE VIEW raw.current_rows AS
SELECT r.* FROM raw.export_rows AS r
WHERE r.file_name IN (SELECT file_name FROM raw.file_manifest WHERE status = 'LOADED');
"""


def _build_manifest(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(MANIFEST_SQL)
    broken = con.execute(
        """SELECT m.file_name, m.rows_total, m.rows_loaded, m.rows_quarantined,
            (SELECT count(*) FROM raw.quarantine q WHERE q.file_name = m.file_name)
        FROM raw.file_manifest m
        WHERE m.rows_total <> m.rows_loaded + m.rows_quarantined
           OR m.rows_quarantined <> (
               SELECT count(*) FROM raw.quarantine q WHERE q.file_name = m.file_name)"""
    ).fetchall()
    if broken:
        raise SystemExit(
            "row accounting invariant broken (rows_total = rows_loaded + rows_quarantined, "
            f"one quarantine row each): {broken}"
        )


def published_marker(build_db: Path) -> Path:
    """Holds the fingerprint of the last publication (see `mark_published`)."""
    return build_db.with_suffix(".published")


def manifest_fingerprint(con: duckdb.DuckDBPyConnection, extra: str) -> str:
    """What a publication was built from: every file with its bytes and status, plus `extra`
    (the code and reference data). Same fingerprint as the last publication = nothing new."""
    rows = con.execute(
        "SELECT file_name, sha256, status FROM raw.file_manifest ORDER BY file_name"
    ).fetchall()
    return hashlib.sha256((json.dumps(rows) + extra).encode()).hexdigest()


def mark_published(build_db: Path, extra: str) -> None:
    con = connect(build_db)
    fingerprint = manifest_fingerprint(con, extra)
    con.close()
    published_marker(build_db).write_text(fingerprint)


def _summary(con: duckdb.DuckDBPyConnection, build_db: Path, extra: str) -> IngestResult:
    files, loaded, rejected, total, quarantined = con.execute(
        """SELECT count(*), count(*) FILTER (WHERE status = 'LOADED'),
            count(*) FILTER (WHERE status = 'REJECTED'),
            coalesce(sum(rows_total), 0), coalesce(sum(rows_quarantined), 0)
        FROM raw.file_manifest"""
    ).fetchone()
    fingerprint = manifest_fingerprint(con, extra)
    marker = published_marker(build_db)
    changed = not marker.exists() or marker.read_text().strip() != fingerprint
    return IngestResult(changed, files, loaded, rejected, int(total), int(quarantined),
                        fingerprint)  # fmt: skip
