"""Ingest: every file of the raw folder into the private build database, nothing lost.

State (private `build.duckdb`, never served):
- `ingest.files`      one row per (file_name, sha256) ever parsed: the parse cache;
- `raw.export_rows`   every data row of every readable file, with its line number and, for a
                      rejected row, its reason_code and detail; typed once here (session,
                      grades in integer hundredths) and identified by `candidate_id`, a
                      meaningless integer: names, birth dates and candidate numbers are never
                      stored in it (nothing downstream needs them);
- `raw.candidate_keys` one row per candidate number: its `candidate_id` (assigned once, kept
                      across runs) and its keyed hash (HMAC-SHA256) `candidate_key`;
- `ingest.rejected_rows` one row per data row of a file rejected whole;
- `raw.file_manifest` recomputed each run from the files present in the raw folder:
                      LOADED / SUPERSEDED / DUPLICATE / REJECTED, with the row counts;
- `raw.quarantine`    (view) every rejected row, file- and row-level;
- `raw.loaded_rows`   (view) the rows of LOADED files: what dbt's staging reads;
- `raw.current_rows`  (view) the same with each candidate's number and candidate_key, for
                      look-ups by people and tests.

New files are read in batches (`read.py`: one `read_csv` per dialect and header layout), then
checked and stored with a handful of set-based statements per batch, in one transaction.
The raw folder is the archive of deliveries: the manifest lists the files it holds, so the same
folder always gives the same tables (a file removed from it is forgotten).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb

from exams import reference
from exams.ingest.files import (
    COLUMNS,
    OPTIONAL_COLUMNS,
    FileName,
    FileRejected,
    ScannedFile,
    parse_name,
    read_header,
    scan,
    transcode_to_utf8,
)
from exams.ingest.read import read_batch
from exams.ingest.rules import validation_sql
from exams.progress import Progress, log

STORAGE_VERSION = 3  # bump when the layout below changes: the build state is re-ingested
# the columns read from a file (names and birth dates: never kept)
READ = [c for c in COLUMNS if c not in OPTIONAL_COLUMNS]
# the columns stored per row, typed once: (name, type, expression over the validated row)
STORED: list[tuple[str, str, str]] = [
    ("session", "INTEGER", "v._session"),
    ("code_academie", "VARCHAR", "v.code_academie"),
    ("candidate_id", "INTEGER", "k.candidate_id"),
    ("sexe", "VARCHAR", "v.sexe"),
    ("uai_etablissement", "VARCHAR", "v.uai_etablissement"),
    ("categorie_candidat", "VARCHAR", "v.categorie_candidat"),
    ("code_epreuve", "VARCHAR", "v.code_epreuve"),
    ("forme", "VARCHAR", "v.forme"),
    ("statut", "VARCHAR", "v.statut"),
    # exact integer hundredths (no float error at 10.00); NULL when not a number
    ("note_hundredths", "INTEGER", "TRY_CAST(round(v._note * 100) AS INTEGER)"),
    ("session_origine", "INTEGER", "v._origin"),
    ("decision", "VARCHAR", "v.decision"),
    ("moyenne_hundredths", "INTEGER", "TRY_CAST(round(v._moyenne * 100) AS INTEGER)"),
]

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS ingest;
CREATE SCHEMA IF NOT EXISTS raw;
DROP SCHEMA IF EXISTS ref CASCADE;
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
    file_name VARCHAR, line_number BIGINT, {cols}, reason_code VARCHAR, detail VARCHAR
);
CREATE TABLE IF NOT EXISTS raw.candidate_keys (
    candidate_id INTEGER, numero_candidat VARCHAR, candidate_key VARCHAR
);
CREATE TABLE IF NOT EXISTS ingest.meta (
    storage_version INTEGER, reference_fingerprint VARCHAR, key_fingerprint VARCHAR
);
""".format(cols=", ".join(f"{name} {type_}" for name, type_, _ in STORED))
STATE_TABLES = [
    "ingest.files", "ingest.rejected_rows", "raw.export_rows", "raw.candidate_keys", "ingest.meta"
]  # fmt: skip
STATE_VIEWS = ["raw.current_rows", "raw.loaded_rows", "raw.quarantine"]  # dependants first


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
    # the same bound as dbt's profile: DuckDB spills past it instead of growing
    limit = os.environ.get("EXAMS_DUCKDB_MEMORY_LIMIT", "1500MB")
    con.execute("SET memory_limit = ?", [limit])
    init_schema(con)
    return con


def init_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ingest state; a state written by another layout is dropped (the raw folder is
    the archive: everything is parsed again)."""
    tables = {
        f"{s}.{t}" for s, t in con.execute("SELECT schema_name, table_name FROM duckdb_tables()")
        .fetchall()
    }  # fmt: skip
    if "ingest.meta" in tables:
        columns = {
            c for (c,) in con.execute(
                "SELECT column_name FROM duckdb_columns() "
                "WHERE schema_name = 'ingest' AND table_name = 'meta'"
            ).fetchall()
        }  # fmt: skip
        version = None
        if "storage_version" in columns:
            version = con.execute("SELECT max(storage_version) FROM ingest.meta").fetchone()[0]
        if version != STORAGE_VERSION:
            log(f"build state written by layout {version}, not {STORAGE_VERSION}: re-ingesting")
            for view in STATE_VIEWS:
                con.execute(f"DROP VIEW IF EXISTS {view}")
            for table in STATE_TABLES:
                con.execute(f"DROP TABLE IF EXISTS {table}")
    con.execute(SCHEMA)


def load_reference(con: duckdb.DuckDBPyConnection) -> None:
    """The dbt seeds, read as they are: one source of truth for ingest rules and models."""
    reference.load_into(con)


def reference_fingerprint() -> str:
    return reference.fingerprint()


def key_fingerprint(key: bytes) -> str:
    """A check value of the pseudonymisation key (not the key): tells when it changed."""
    return hmac.new(key, b"exams key check value", hashlib.sha256).hexdigest()


def sync_meta(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    """A rectorat corrected a seed (e.g. a category's CCF eligibility or an académie's validity):
    every file is parsed and checked again. The key changed: every candidate's keyed hash is
    computed again (once per candidate)."""
    ref, keyfp = reference_fingerprint(), key_fingerprint(key)
    row = con.execute(
        "SELECT max(reference_fingerprint), max(key_fingerprint) FROM ingest.meta"
    ).fetchone()
    if row == (ref, keyfp):
        return
    if row[0] is not None and row[0] != ref:
        log("reference data changed: every export is checked again against it")
        for table in ("ingest.files", "ingest.rejected_rows", "raw.export_rows"):
            con.execute(f"DELETE FROM {table}")
    if row[1] is not None and row[1] != keyfp:
        log("pseudonymisation key changed: every candidate_key is computed again")
        con.execute(
            f"UPDATE raw.candidate_keys SET candidate_key = {hmac_sql('numero_candidat', key)}"
        )
    con.execute("DELETE FROM ingest.meta")
    con.execute("INSERT INTO ingest.meta VALUES (?, ?, ?)", [STORAGE_VERSION, ref, keyfp])


def _add_keys(con: duckdb.DuckDBPyConnection, source: str, key: bytes) -> None:
    """Every candidate number of `source` not yet known gets the next candidate_id and its
    keyed hash, once per number."""
    con.execute(
        f"""INSERT INTO raw.candidate_keys
        SELECT
            (SELECT coalesce(max(candidate_id), 0) FROM raw.candidate_keys)
                + row_number() OVER (),
            numero_candidat,
            {hmac_sql("numero_candidat", key)}
        FROM (SELECT DISTINCT numero_candidat FROM {source} WHERE numero_candidat <> '') AS n
        WHERE NOT EXISTS (
            SELECT 1 FROM raw.candidate_keys AS k WHERE k.numero_candidat = n.numero_candidat
        )"""
    )


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


@dataclass
class Pending:
    """A new file whose name, encoding and header passed: its rows are read with its batch."""

    sf: ScannedFile
    fn: FileName
    st: os.stat_result


class AcademyRules:
    """Sessions and académies valid for the diploma (ref seeds), read once per run."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.lo, self.hi = con.execute(
            "SELECT max(CASE WHEN rule = 'first_session' THEN value END)::INTEGER, "
            "max(CASE WHEN rule = 'last_session' THEN value END)::INTEGER FROM ref_exam_rules"
        ).fetchone()
        self.academies = con.execute(
            "SELECT academy_code, coalesce(first_session, 0), coalesce(last_session, 9999) "
            "FROM ref_academies"
        ).fetchall()

    def check(self, fn: FileName) -> None:
        if not self.lo <= fn.session <= self.hi:
            raise FileRejected(
                "SESSION_OUT_OF_RANGE", f"session {fn.session} outside {self.lo}–{self.hi}"
            )
        if not any(a == fn.academy_code and lo <= fn.session <= hi for a, lo, hi in self.academies):
            raise FileRejected(
                "UNKNOWN_ACADEMY", f"académie '{fn.academy_code}' is not valid for {fn.session}"
            )


def prepare(
    con: duckdb.DuckDBPyConnection,
    sf: ScannedFile,
    st: os.stat_result,
    rules: AcademyRules,
    work: Path,
) -> Pending | None:
    """Checks a file can be read as a whole (name, encoding, header). A rejected file is
    recorded at once with every physical line quarantined; an accepted one waits for its batch
    (cp1252 transcoded to a UTF-8 copy in `work`)."""
    fn = FileName()
    try:
        fn = parse_name(sf.path.name)
        if sf.encoding is None:
            raise FileRejected("UNREADABLE_ENCODING", "neither UTF-8 nor Windows-1252")
        rules.check(fn)
        if sf.encoding == "cp1252":
            sf.utf8_path = work / f"{sf.sha256}.utf8.csv"
            transcode_to_utf8(sf.path, sf.utf8_path, "cp1252")
        read_header(sf)
    except FileRejected as rej:
        _drop_copy(sf)
        _reject(con, Pending(sf, fn, st), rej, _every_line(sf))
        return None
    return Pending(sf, fn, st)


def _every_line(sf: ScannedFile) -> str:
    """Every physical line after the header, for a file whose rows cannot be parsed."""
    return f"SELECT range AS line_number FROM range(2, {max(sf.lines, 1) + 1})"


def _reject(con: duckdb.DuckDBPyConnection, p: Pending, rej: FileRejected, lines: str) -> None:
    """A file rejected whole: each of its data lines (`lines`, a query of line_number; it may
    use $name) quarantined with the file's reason, and the file recorded."""
    name = p.sf.path.name
    con.execute(
        f"""INSERT INTO ingest.rejected_rows
        SELECT $name, $sha, line_number, $code, $detail FROM ({lines})""",
        {"name": name, "sha": p.sf.sha256, "code": rej.code, "detail": rej.detail},
    )
    n = con.execute(
        "SELECT count(*) FROM ingest.rejected_rows WHERE file_name = ? AND sha256 = ?",
        [name, p.sf.sha256],
    ).fetchone()[0]
    _record(con, p, rej.code, rej.detail, n, n)
    log(f"{name}: REJECTED ({rej.code}: {rej.detail})")


def _drop_copy(sf: ScannedFile) -> None:
    if sf.utf8_path and sf.utf8_path.exists():
        sf.utf8_path.unlink()


def _record(
    con: duckdb.DuckDBPyConnection,
    p: Pending,
    code: str | None,
    detail: str | None,
    total: int | None,
    quarantined: int | None,
) -> None:
    sf, fn = p.sf, p.fn
    con.execute(
        "INSERT INTO ingest.files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [sf.path.name, sf.sha256, p.st.st_size, p.st.st_mtime_ns, fn.session, fn.academy_code,
         fn.exported_at, sf.encoding, sf.delimiter if sf.header else None, code, detail,
         total, quarantined],
    )  # fmt: skip


BATCH_ROWS = 2_500_000  # bounded memory: the rows of a batch wait in temp tables

FILE_LEVEL_SQL = """
WITH per_value AS (
    SELECT file_name, code_academie, TRY_CAST(session AS INTEGER) AS session,
        count(*) AS n, min(line_number) AS first_line
    FROM batch_rows GROUP BY ALL
)
SELECT f.file_name, coalesce(sum(v.n), 0),
    coalesce(sum(v.n) FILTER (WHERE v.code_academie <> f.academy_code), 0),
    min(v.first_line) FILTER (WHERE v.code_academie <> f.academy_code),
    coalesce(sum(v.n) FILTER (WHERE v.session IS DISTINCT FROM f.session), 0),
    min(v.first_line) FILTER (WHERE v.session IS DISTINCT FROM f.session)
FROM batch_files AS f LEFT JOIN per_value AS v USING (file_name)
GROUP BY f.file_name
"""


def _file_level(row: tuple, fn: FileName) -> FileRejected | None:
    _, n, bad_acad, first_acad, bad_sess, first_sess = row
    if n == 0:
        return FileRejected("NO_DATA_ROWS", "the file has a header but no data row")
    if bad_acad:
        return FileRejected(
            "ACADEMY_MISMATCH",
            f"{bad_acad} row(s) (first on line {first_acad}) are not for académie "
            f"{fn.academy_code} named in the file name",
        )
    if bad_sess:
        return FileRejected(
            "SESSION_MISMATCH",
            f"{bad_sess} row(s) (first on line {first_sess}) are not for session {fn.session} "
            "named in the file name",
        )
    return None


def load_batch(
    con: duckdb.DuckDBPyConnection, batch: list[Pending], key: bytes, work: Path
) -> None:
    """Read, check and store the rows of many files with a handful of set-based statements:
    rows of every file validated at once, the keyed hash computed once per candidate. The
    stores run in one transaction: a killed run leaves no half-stored batch."""
    if not batch:
        return
    by_name = {p.sf.path.name: p for p in batch}
    try:
        rows, unreadable = read_batch(con, [p.sf for p in batch], work, READ)
    finally:
        for p in batch:
            _drop_copy(p.sf)
    try:
        _store_batch(con, by_name, unreadable, key)
    finally:
        rows.drop()
        con.execute("DROP VIEW IF EXISTS batch_accepted")
        for table in ("batch_files", "batch_rejected"):
            con.execute(f"DROP TABLE IF EXISTS {table}")


def _store_batch(
    con: duckdb.DuckDBPyConnection,
    by_name: dict[str, Pending],
    unreadable: dict[str, FileRejected],
    key: bytes,
) -> None:
    con.execute(
        "CREATE OR REPLACE TEMP TABLE batch_files "
        "(file_name VARCHAR, session INTEGER, academy_code VARCHAR)"
    )
    readable = [(n, p.fn.session, p.fn.academy_code) for n, p in by_name.items()
                if n not in unreadable]  # fmt: skip
    if readable:
        con.executemany("INSERT INTO batch_files VALUES (?, ?, ?)", readable)
    rejected = dict(unreadable)
    for row in con.execute(FILE_LEVEL_SQL).fetchall():  # one row per file
        rej = _file_level(row, by_name[row[0]].fn)
        if rej:
            rejected[row[0]] = rej
    con.execute("CREATE OR REPLACE TEMP TABLE batch_rejected (file_name VARCHAR)")
    if rejected:
        con.executemany("INSERT INTO batch_rejected VALUES (?)", [(n,) for n in rejected])
    con.execute(
        "CREATE OR REPLACE TEMP VIEW batch_accepted AS SELECT * FROM batch_rows "
        "WHERE file_name NOT IN (SELECT file_name FROM batch_rejected)"
    )
    con.execute("BEGIN TRANSACTION")
    for name, rej in rejected.items():
        p = by_name[name]
        parsed = "SELECT line_number FROM batch_rows WHERE file_name = $name"
        _reject(con, p, rej, _every_line(p.sf) if name in unreadable else parsed)
    # rows carry their line number: no need to keep their order, the store runs in parallel
    # (the reads above need the order: their rowid is the line)
    con.execute("SET preserve_insertion_order = false")
    _add_keys(con, "batch_accepted", key)
    stored = ", ".join(f"{expr} AS {name}" for name, _, expr in STORED)
    con.execute(
        f"""INSERT INTO raw.export_rows BY NAME
        SELECT v.file_name, v.line_number, {stored}, v.reason_code, v.detail
        FROM ({validation_sql("batch_accepted")}) AS v
        LEFT JOIN raw.candidate_keys AS k ON k.numero_candidat = v.numero_candidat"""
    )
    con.execute("RESET preserve_insertion_order")
    accepted = [n for n in by_name if n not in rejected]
    counts = {
        name: (total, quarantined)
        for name, total, quarantined in con.execute(
            """SELECT file_name, count(*), count(*) FILTER (WHERE reason_code IS NOT NULL)
            FROM raw.export_rows WHERE file_name IN ? GROUP BY 1""",
            [accepted],
        ).fetchall()
    } if accepted else {}  # fmt: skip
    for name in accepted:
        _record(con, by_name[name], None, None, *counts.get(name, (0, 0)))
    con.execute("COMMIT")


def run(
    raw_dir: Path, build_db: Path, work: Path, key: bytes, extra_fingerprint: str = ""
) -> IngestResult:
    """Bring the build database in line with the raw folder; recompute the manifest."""
    if not raw_dir.is_dir():
        raise SystemExit(f"raw folder {raw_dir} does not exist (EXAMS_RAW_DIR)")
    con = connect(build_db)
    load_reference(con)
    sync_meta(con, key)
    _forget_unfinished(con)
    rules = AcademyRules(con)
    paths = sorted(p for p in raw_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    known = con.execute("SELECT file_name, size, mtime_ns, sha256 FROM ingest.files").fetchall()
    cached = {(r[0], r[1], r[2]): r[3] for r in known}
    parsed = {(r[0], r[3]) for r in known}
    names = {r[0] for r in known}
    present: list[tuple[str, str]] = []
    batch: list[Pending] = []
    batch_rows = 0
    stats = {path: path.stat() for path in paths}
    unknown = [p for p in paths if (p.name, stats[p].st_size, stats[p].st_mtime_ns) not in cached]
    with (
        Progress("ingest", total=len(paths)) as progress,
        # files are hashed ahead, in threads (hashlib releases the GIL, so does DuckDB)
        ThreadPoolExecutor(max_workers=2) as pool,
    ):
        scans = pool.map(scan, unknown)
        for path in paths:
            st = stats[path]
            sha = cached.get((path.name, st.st_size, st.st_mtime_ns))
            if sha is None:
                sf = next(scans)
                sha = sf.sha256
                if (path.name, sha) in parsed:  # same bytes, touched: nothing to parse
                    con.execute(
                        "UPDATE ingest.files SET size = ?, mtime_ns = ? "
                        "WHERE file_name = ? AND sha256 = ?",
                        [st.st_size, st.st_mtime_ns, path.name, sha],
                    )
                else:
                    if path.name in names:  # other bytes under a known name
                        _forget(con, path.name)
                    pending = prepare(con, sf, st, rules, work)
                    if pending:
                        batch.append(pending)
                        batch_rows += sf.lines
                    if batch_rows >= BATCH_ROWS:
                        load_batch(con, batch, key, work)
                        batch, batch_rows = [], 0
            present.append((path.name, sha))
            progress.advance(path.name)
    load_batch(con, batch, key, work)
    _forget_absent(con, present)
    _build_manifest(con)
    result = _summary(con, build_db, extra_fingerprint)
    con.close()
    return result


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
    """Files no longer in the raw folder (or replaced by other bytes) are forgotten, with the
    keys of candidate numbers no file holds any more."""
    con.execute("CREATE OR REPLACE TEMP TABLE present (file_name VARCHAR, sha256 VARCHAR)")
    if present:
        con.executemany("INSERT INTO present VALUES (?, ?)", present)
    gone = 0
    for table in ("ingest.files", "ingest.rejected_rows"):
        gone += con.execute(
            f"DELETE FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM present p "
            "WHERE p.file_name = t.file_name AND p.sha256 = t.sha256)"
        ).fetchone()[0]
    gone += con.execute(
        "DELETE FROM raw.export_rows WHERE file_name NOT IN (SELECT file_name FROM ingest.files)"
    ).fetchone()[0]
    if gone:
        con.execute(
            "DELETE FROM raw.candidate_keys WHERE candidate_id NOT IN "
            "(SELECT candidate_id FROM raw.export_rows WHERE candidate_id IS NOT NULL)"
        )
    con.execute("DROP TABLE present")


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
    CASE WHEN pre_status = 'REJECTED' THEN reject_code END AS reason_code,
    CASE WHEN pre_status = 'REJECTED' THEN reject_detail END AS reason_detail,
    CASE
        WHEN pre_status = 'DUPLICATE' THEN first_same_bytes
        WHEN pre_status IS NULL AND latest_file <> file_name THEN latest_file
    END AS related_file_name
FROM latest
ORDER BY session, academy_code, exported_at, file_name;

CREATE OR REPLACE VIEW raw.quarantine AS
SELECT file_name, line_number, reason_code, detail, candidate_id, session, code_academie
FROM raw.export_rows WHERE reason_code IS NOT NULL
UNION ALL
SELECT file_name, line_number, reason_code, detail, NULL, NULL, NULL FROM ingest.rejected_rows;

CREATE OR REPLACE VIEW raw.loaded_rows AS
SELECT *
FROM raw.export_rows
WHERE file_name IN (SELECT file_name FROM raw.file_manifest WHERE status = 'LOADED');

CREATE OR REPLACE VIEW raw.current_rows AS
SELECT r.*, k.numero_candidat, k.candidate_key
FROM raw.loaded_rows AS r
LEFT JOIN raw.candidate_keys AS k USING (candidate_id);
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
