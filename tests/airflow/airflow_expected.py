"""Expected pass-rate figures, computed straight from the raw exports with DuckDB.

Independent of the pipeline's code: file names are parsed here, only the latest export of each
(session, académie) counts, and the jury's `decision` column gives admitted.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

import duckdb

NAME = re.compile(r"^NDRC_(\d{4})_(\d{2})_(\d{8}T\d{6})\.csv$")
MANDATORY = ("E1", "E2", "E3", "E4", "E5A", "E5B", "E6")
COLUMNS = ("session", "code_academie", "numero_candidat", "categorie_candidat", "code_epreuve",
           "statut", "decision")  # fmt: skip


def latest_exports(raw_dir: Path) -> list[Path]:
    """The latest well-named export of each (session, académie)."""
    latest: dict[tuple[str, str], tuple[str, Path]] = {}
    for path in sorted(raw_dir.glob("*.csv")):
        if m := NAME.match(path.name):
            key = (m[1], m[2])
            if key not in latest or m[3] > latest[key][0]:
                latest[key] = (m[3], path)
    return [path for _, path in sorted(latest.values(), key=lambda v: v[1].name)]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _norm(name: str) -> str:
    name = unicodedata.normalize("NFKD", name.replace("\ufeff", ""))
    return "".join(c for c in name if not unicodedata.combining(c)).strip().lower()


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _select(con: duckdb.DuckDBPyConnection, path: Path) -> str:
    data = path.read_bytes()
    try:
        first = data.decode("utf-8-sig").splitlines()[0]
        encoding = "utf-8"
    except UnicodeDecodeError:
        first = data.decode("latin-1").splitlines()[0]
        encoding = "latin-1"
    delim = ";" if first.count(";") > first.count(",") else ","
    source = (
        f"read_csv('{path}', delim='{delim}', header=true, all_varchar=true, "
        f"encoding='{encoding}', quote='\"')"
    )
    # one record per physical line in these files: a row's line is its position + 1
    line = "row_number() OVER () + 1 AS line_number"
    names = {_norm(r[0]): r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    cols = ", ".join(f"upper(trim({_ident(names[c])})) AS {c}" for c in COLUMNS)
    return f"SELECT '{path.name}' AS file_name, {line}, {cols} FROM {source}"


def pass_rate_counts(
    raw_dir: Path, quarantined: set[tuple[str, int]]
) -> dict[tuple[str, str, str], tuple[int, int, int]]:
    """(session, academy_code, category) → (registered, present, admitted); a candidate with a
    line in `quarantined` (file name, physical line) is registered only, from its other lines."""
    con = duckdb.connect()
    con.execute("SET threads = 1")  # rows in file order: row_number() is the physical line
    con.execute("CREATE TABLE quarantined (file_name VARCHAR, line_number BIGINT)")
    if quarantined:
        con.executemany("INSERT INTO quarantined VALUES (?, ?)", sorted(quarantined))
    rows = " UNION ALL ".join(_select(con, p) for p in latest_exports(raw_dir))
    mandatory = ", ".join(f"'{e}'" for e in MANDATORY)
    query = f"""
        WITH all_rows AS ({rows}),
        flagged AS (
            SELECT a.*, q.line_number IS NOT NULL AS in_quarantine
            FROM all_rows a LEFT JOIN quarantined q USING (file_name, line_number)
        ),
        candidates AS (
            SELECT session, code_academie, numero_candidat,
                any_value(categorie_candidat) FILTER (NOT in_quarantine) AS category,
                any_value(decision) FILTER (NOT in_quarantine) AS decision,
                bool_or(statut = 'NOTE') FILTER (NOT in_quarantine) AS sat,
                NOT bool_or(in_quarantine)
                    AND count(*) FILTER (code_epreuve IN ({mandatory})) = {len(MANDATORY)}
                    AND count(DISTINCT code_epreuve) FILTER (code_epreuve IN ({mandatory}))
                        = {len(MANDATORY)} AS complete
            FROM flagged WHERE numero_candidat IS NOT NULL AND numero_candidat <> ''
            GROUP BY ALL
            HAVING count(*) FILTER (NOT in_quarantine) > 0
        )
        SELECT session, code_academie, category, count(*) AS registered,
            count(*) FILTER (complete AND (sat OR category = 'VAE')) AS present,
            count(*) FILTER (complete AND decision = 'ADMIS') AS admitted
        FROM candidates GROUP BY ALL
    """
    result = con.execute(query).fetchall()
    con.close()
    return {(str(int(s)), a, c): (r, p, ad) for s, a, c, r, p, ad in result}


def loaded_quarantine(warehouse: Path, raw_dir: Path) -> set[tuple[str, int]]:
    """The lines in quarantine of the LOADED files (audit.quarantine), named as the latest
    export of their (session, académie), which may be a duplicate of the loaded file."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        loaded = dict(con.execute(
            "SELECT file_name, sha256 FROM audit.file_manifest WHERE status = 'LOADED'"
        ).fetchall())  # fmt: skip
        lines = con.execute(
            "SELECT q.file_name, q.line_number FROM audit.quarantine q "
            "JOIN audit.file_manifest m USING (file_name) WHERE m.status = 'LOADED'"
        ).fetchall()
    finally:
        con.close()
    latest_name = {sha256(p): p.name for p in latest_exports(raw_dir)}
    return {(latest_name[loaded[name]], line) for name, line in lines}
