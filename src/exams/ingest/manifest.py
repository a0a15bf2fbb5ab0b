"""The manifest: every entry of the raw folder with its status (export-format.md), recomputed at
each run from the parse cache, and the views dbt's staging reads.

Statuses, per (session, académie), files in the order of their export timestamp:
- REJECTED: the file cannot be read as a whole (its reason code and detail), or the entry is
  not a regular file or could not be read tonight, or it is a correction registering fewer than
  `shrink_min_ratio` of the candidates of the LOADED file it would replace (SUSPICIOUS_SHRINK),
  unless its name is in EXAMS_ACCEPT_SHRINK — a shrink accepted once stays accepted;
- DUPLICATE: the same bytes as an earlier file that was not rejected whole;
- LOADED: the latest file that is not rejected or a duplicate; the earlier ones SUPERSEDED.
This walks files, never rows (a few hundred a session).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import duckdb

from exams.errors import InvariantBroken
from exams.ingest.files import FileRejected, parse_name
from exams.ingest.state import insert_rows

log = logging.getLogger(__name__)

COLUMNS = (
    "file_name VARCHAR, sha256 VARCHAR, session INTEGER, academy_code VARCHAR, "
    "exported_at TIMESTAMP, status VARCHAR, rows_total BIGINT, rows_loaded BIGINT, "
    "rows_quarantined BIGINT, reason_code VARCHAR, reason_detail VARCHAR, "
    "related_file_name VARCHAR"
)


@dataclass
class File:
    name: str
    sha256: str | None
    session: int | None
    academy_code: str | None
    exported_at: datetime | None
    rows_total: int
    rows_quarantined: int
    candidates: int
    reason_code: str | None = None
    reason_detail: str | None = None
    status: str | None = None
    related: str | None = None

    def row(self) -> tuple:
        rejected = self.status == "REJECTED"
        return (
            self.name, self.sha256, self.session, self.academy_code, self.exported_at,
            self.status, self.rows_total,
            0 if rejected else self.rows_total - self.rows_quarantined,
            self.rows_total if rejected else self.rows_quarantined,
            self.reason_code, self.reason_detail, self.related,
        )  # fmt: skip


def _night_file(name: str, code: str, detail: str) -> File:
    try:
        fn = parse_name(name)
    except FileRejected:
        fn = None
    return File(name, None, fn and fn.session, fn and fn.academy_code, fn and fn.exported_at,
                0, 0, 0, code, detail, "REJECTED")  # fmt: skip


def _statuses(files: list[File], accepted: set[tuple[str, str]], accept_names: frozenset[str],
              min_ratio: float) -> list[tuple[str, str]]:  # fmt: skip
    """Set each file's status; returns the shrinks accepted by name tonight."""
    newly_accepted = []
    original: dict[str, File] = {}
    for f in sorted((f for f in files if f.status != "REJECTED"),
                    key=lambda f: (f.exported_at, f.name)):  # fmt: skip
        first = original.setdefault(f.sha256, f)
        if first is not f:
            f.status, f.related = "DUPLICATE", first.name
    groups: dict[tuple, list[File]] = {}
    for f in files:
        if f.status is None:
            groups.setdefault((f.session, f.academy_code), []).append(f)
    for group in groups.values():
        loaded: File | None = None
        for f in sorted(group, key=lambda f: (f.exported_at, f.name)):
            if loaded is not None and f.candidates < min_ratio * loaded.candidates:
                if (f.name, f.sha256) in accepted:
                    pass
                elif f.name in accept_names:
                    newly_accepted.append((f.name, f.sha256))
                    log.info("%s: shrink accepted (EXAMS_ACCEPT_SHRINK)", f.name)
                else:
                    f.status, f.reason_code = "REJECTED", "SUSPICIOUS_SHRINK"
                    f.reason_detail = (
                        f"{f.candidates} candidat(s) inscrit(s) contre {loaded.candidates} dans "
                        "l'export chargé qu'il remplacerait ; si la baisse est voulue, ajoutez "
                        "le nom du fichier à EXAMS_ACCEPT_SHRINK"
                    )
                    log.warning("%s: REJECTED (SUSPICIOUS_SHRINK: %s)", f.name, f.reason_detail)
                    continue
            if loaded is not None:
                loaded.status, loaded.related = "SUPERSEDED", f.name
            loaded = f
        if loaded is not None:
            loaded.status = "LOADED"
    return newly_accepted


VIEWS_SQL = """
CREATE OR REPLACE VIEW raw.quarantine AS
SELECT r.file_name, r.line_number,
    CASE WHEN m.status = 'REJECTED' THEN m.reason_code ELSE r.reason_code END AS reason_code,
    CASE WHEN m.status = 'REJECTED' THEN m.reason_detail ELSE r.detail END AS detail,
    r.candidate_id
FROM raw.export_rows AS r
JOIN raw.file_manifest AS m USING (file_name)
WHERE r.reason_code IS NOT NULL OR m.status = 'REJECTED'
UNION ALL
SELECT file_name, line_number, reason_code, detail, NULL FROM ingest.rejected_rows;

CREATE OR REPLACE VIEW raw.loaded_rows AS
SELECT *
FROM raw.export_rows
WHERE file_name IN (SELECT file_name FROM raw.file_manifest WHERE status = 'LOADED');

CREATE OR REPLACE VIEW raw.current_rows AS
SELECT r.*, k.numero_candidat, k.candidate_key
FROM raw.loaded_rows AS r
LEFT JOIN raw.candidate_keys AS k USING (candidate_id);
"""


def build(con: duckdb.DuckDBPyConnection, accept_shrink: frozenset[str],
          shrink_min_ratio: float) -> None:  # fmt: skip
    """Recompute `raw.file_manifest` and the views over it; check the row accounting."""
    files = [
        File(*row, reason_code=code, reason_detail=detail, status="REJECTED" if code else None)
        for *row, code, detail in con.execute(
            """SELECT file_name, sha256, session, academy_code, exported_at, rows_total,
                rows_quarantined, candidates, reject_code, reject_detail
            FROM ingest.files"""
        ).fetchall()
    ]
    files += [_night_file(*row) for row in con.execute(
        "SELECT file_name, reason_code, detail FROM ingest.night_files").fetchall()]  # fmt: skip
    accepted = set(con.execute("SELECT file_name, sha256 FROM ingest.accepted_shrinks").fetchall())
    newly = _statuses(files, accepted, accept_shrink, shrink_min_ratio)
    insert_rows(con, "ingest.accepted_shrinks", newly)
    con.execute(f"CREATE OR REPLACE TABLE raw.file_manifest ({COLUMNS})")
    insert_rows(con, "raw.file_manifest", [f.row() for f in sorted(files, key=lambda f: (
        f.session or 0, f.academy_code or "", f.exported_at or datetime.min, f.name))])  # fmt: skip
    con.execute(VIEWS_SQL)
    _check_accounting(con)


def _check_accounting(con: duckdb.DuckDBPyConnection) -> None:
    broken = con.execute(
        """WITH q AS (SELECT file_name, count(*) AS n FROM raw.quarantine GROUP BY ALL)
        SELECT m.file_name, m.rows_total, m.rows_loaded, m.rows_quarantined, coalesce(q.n, 0)
        FROM raw.file_manifest AS m LEFT JOIN q USING (file_name)
        WHERE m.rows_total <> m.rows_loaded + m.rows_quarantined
           OR m.rows_quarantined <> coalesce(q.n, 0)"""
    ).fetchall()
    if broken:
        raise InvariantBroken(
            "row accounting broken (rows_total = rows_loaded + rows_quarantined, one quarantine "
            f"row each): {broken}"
        )
