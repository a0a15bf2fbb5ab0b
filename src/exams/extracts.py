"""Ministry reporting extracts (warehouse-contract.md), written after publication.

Per session, into `<EXAMS_EXTRACTS_DIR>/<session>/`: `ndrc_<session>_pass_rates` and
`ndrc_<session>_blocks` as CSV (UTF-8 with BOM, `;`, decimal comma), Parquet, one XLSX workbook
(one sheet per table and a sheet describing the columns) and `manifest.json`.

Statistical secrecy: a row whose population (present; assessed for blocks) is 1–4 shows its
counts and rate empty; complementary suppression then makes every line of the table (the route
rows of one académie with its TOUTES row; the académie rows of one route with its NAT row; per
block for blocks) hold no suppressed row or at least two, suppressing the smallest extra rows.
Aggregates are computed in DuckDB; the suppression walks the few hundred aggregate rows in plain
Python, and the files are written without pandas (its import alone cost more than the rest):
csv for CSV, pyarrow for Parquet (same schema and pandas metadata as `DataFrame.to_parquet`, so
the same bytes), openpyxl for XLSX.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from exams.progress import log
from exams.settings import Settings

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

SCHEMA_VERSION = "1.0"
ALL = "TOUTES"
NATIONAL = "NAT"
NATIONAL_NAME = "France entière"

COLUMNS = {
    "session": "Session d'examen (année).",
    "rncp_code": "Code RNCP certifié par la session (RNCP34030 jusqu'en 2023, RNCP38368 depuis 2024).",
    "academy_code": "Code officiel de l'académie ; NAT pour l'ensemble national.",
    "academy_name": "Nom de l'académie.",
    "access_route": "Voie d'accès de la fiche RNCP ; TOUTES pour l'ensemble des voies.",
    "present": "Présents (candidats complets ayant au moins une note, plus les candidats VAE).",
    "admitted": "Admis (décision recalculée selon les règles du diplôme).",
    "pass_rate": "Taux de réussite : admis / présents, 4 décimales.",
    "block_code": "Bloc de compétences (BC01, BC02, BC03).",
    "assessed": "Unités du bloc évaluées cette session.",
    "acquired": "Unités du bloc acquises (note ≥ 10).",
    "acquisition_rate": "Taux d'acquisition : acquises / évaluées, 4 décimales.",
    "attestations_non_admitted": "Blocs acquis ou validés par VAE par des candidats non admis "
    "(attestations de blocs).",
}
SOURCES = (
    "Source : exports de résultats des rectorats, recalculés par la plateforme (marts.pass_rates, "
    "marts.block_capitalisation). Cellules de moins de {threshold} candidats masquées, avec "
    "masquage complémentaire."
)

PASS_RATES_SQL = """
WITH base AS (
    SELECT p.session, p.academy_code, p.academy_name, p.access_route,
        sum(p.present) AS present, sum(p.admitted) AS admitted
    FROM marts.pass_rates AS p WHERE p.session = $session GROUP BY ALL
)
SELECT session, academy_code, academy_name, access_route, present, admitted FROM base
UNION ALL
SELECT session, academy_code, academy_name, 'TOUTES', sum(present), sum(admitted)
FROM base GROUP BY ALL
UNION ALL
SELECT session, 'NAT', 'France entière', access_route, sum(present), sum(admitted)
FROM base GROUP BY ALL
UNION ALL
SELECT session, 'NAT', 'France entière', 'TOUTES', sum(present), sum(admitted)
FROM base GROUP BY ALL
-- a fixed order: complementary suppression picks the first smallest cell of a line
ORDER BY session, academy_code, access_route
"""

BLOCKS_SQL = """
WITH base AS (
    SELECT b.session, b.academy_code, a.academy_name, b.access_route, b.block_code,
        sum(b.assessed) AS assessed, sum(b.acquired) AS acquired,
        sum(b.acquired_by_non_admitted) AS attestations_non_admitted
    FROM marts.block_capitalisation AS b
    LEFT JOIN reference.ref_academies AS a USING (academy_code)
    WHERE b.session = $session AND b.block_code IS NOT NULL GROUP BY ALL
)
SELECT session, academy_code, academy_name, access_route, block_code, assessed, acquired,
    attestations_non_admitted FROM base
UNION ALL
SELECT session, academy_code, academy_name, 'TOUTES', block_code, sum(assessed), sum(acquired),
    sum(attestations_non_admitted) FROM base GROUP BY ALL
UNION ALL
SELECT session, 'NAT', 'France entière', access_route, block_code, sum(assessed), sum(acquired),
    sum(attestations_non_admitted) FROM base GROUP BY ALL
UNION ALL
SELECT session, 'NAT', 'France entière', 'TOUTES', block_code, sum(assessed), sum(acquired),
    sum(attestations_non_admitted) FROM base GROUP BY ALL
ORDER BY session, academy_code, access_route, block_code
"""


# Column types, as pandas had them (DuckDB's `.df()`, then Int64/Float64 once suppressed): the
# Parquet schema and its pandas metadata follow from them. session: DuckDB's integer type.
INTEGERS = {"TINYINT": "int8", "SMALLINT": "int16", "INTEGER": "int32", "BIGINT": "int64"}
STR, COUNT, RATE, EMPTY = "str", "Int64", "Float64", "empty"  # EMPTY: no RNCP code (all null)
INT_CODES = {8: "b", 16: "h", 32: "i", 64: "q"}


@dataclass
class Table:
    columns: list[str]
    types: list[str]  # per column: an INTEGERS value, STR, COUNT, RATE or EMPTY
    rows: list[tuple]

    def __len__(self) -> int:
        return len(self.rows)


def _hidden(population: list, lines: list[list[tuple | None]], threshold: int) -> list[bool]:
    """Suppression mask of rows whose `population` (None: unknown) is given; `lines` holds, per
    kind of line, each row's line key (None: the row is in no line of that kind)."""
    mask = [p is not None and 1 <= p < threshold for p in population]
    kinds = []
    for keys in lines:  # the lines in order of first row, like pandas' groupby(sort=False)
        groups: dict[tuple, list[int]] = {}
        for i, key in enumerate(keys):
            if key is not None:
                groups.setdefault(key, []).append(i)
        kinds.append(list(groups.values()))
    changed = True
    while changed:
        changed = False
        for groups in kinds:
            for rows in groups:
                if sum(mask[i] for i in rows) == 1:
                    candidates = [i for i in rows if not mask[i]]
                    if not candidates:
                        continue
                    positive = [i for i in candidates if population[i] is not None
                                and population[i] > 0]  # fmt: skip
                    pool = [i for i in positive or candidates if population[i] is not None]
                    if not pool:
                        raise ValueError("Encountered all NA values")
                    mask[min(pool, key=population.__getitem__)] = True  # first smallest
                    changed = True
    return mask


def _line_keys(rows: list[dict], keys: list[str]) -> list[tuple | None]:
    return [None if any(r[k] is None for k in keys) else tuple(r[k] for k in keys) for r in rows]


def suppress(df: pd.DataFrame, population: str, threshold: int, by: list[str]) -> pd.Series:
    """Boolean mask of suppressed rows: primary (1 ≤ population < threshold) then
    complementary, until every line holds zero or at least two suppressed rows."""
    import pandas as pd

    rows = [{k: None if pd.isna(v) else v for k, v in r.items()}
            for r in df.to_dict("records")]  # fmt: skip
    lines = [_line_keys(rows, [*by, "academy_code"]), _line_keys(rows, [*by, "access_route"])]
    hidden = _hidden([r[population] for r in rows], lines, threshold)
    return pd.Series(hidden, index=df.index)


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> tuple[list[dict], dict]:
    """Rows as dicts, and the column types pandas gave the session and text columns: DuckDB's
    integer type; text all null (or no row at all) was an object column, written as nulls."""
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    types = {}
    for name, typ, *_ in cursor.description:
        if name == "session":
            if str(typ) not in INTEGERS:
                raise TypeError(f"session is {typ}, expected one of {sorted(INTEGERS)}")
            types[name] = INTEGERS[str(typ)]
        elif str(typ) == "VARCHAR":
            types[name] = EMPTY if all(r[name] is None for r in rows) else STR
    return rows, types


def _rate(numerator: Any, population: Any) -> float | None:
    if numerator is None or population is None or not population > 0:
        return None
    return round(numerator / population * 10000.0) / 10000.0  # as numpy's round(4)


def _finish(rows: list[dict], population: str, rate: str, numerator: str, counts: list[str],
            threshold: int, by: list[str]) -> None:  # fmt: skip
    for r in rows:
        r[rate] = _rate(r[numerator], r[population])
    lines = [_line_keys(rows, [*by, "academy_code"]), _line_keys(rows, [*by, "access_route"])]
    hidden = _hidden([r[population] for r in rows], lines, threshold)
    for r, h in zip(rows, hidden, strict=True):
        if h:
            for col in [*counts, rate]:
                r[col] = None


def _table(rows: list[dict], columns: list[str], types: dict[str, str],
           extra: list[str]) -> Table:  # fmt: skip
    def last_if_null(v: Any) -> tuple:
        return (v is None, "" if v is None else v)

    rows = sorted(rows, key=lambda r: (
        r["academy_code"] == NATIONAL, last_if_null(r["academy_code"]),
        r["access_route"] == ALL, last_if_null(r["access_route"]),
        *(last_if_null(r[k]) for k in extra),
    ))  # fmt: skip
    return Table(columns, [types[c] for c in columns], [tuple(r[c] for c in columns) for r in rows])


def tables_for(con: duckdb.DuckDBPyConnection, session: int, threshold: int) -> dict[str, Table]:
    rncp = con.execute(
        "SELECT rncp_code FROM reference.ref_rncp_codes WHERE ? BETWEEN first_session AND "
        "last_session",
        [session],
    ).fetchone()
    rncp_code = rncp[0] if rncp else None
    rates, types_r = _fetch(con, PASS_RATES_SQL, {"session": session})
    _finish(rates, "present", "pass_rate", "admitted", ["present", "admitted"], threshold, [])
    blocks, types_b = _fetch(con, BLOCKS_SQL, {"session": session})
    _finish(blocks, "assessed", "acquisition_rate", "acquired",
            ["assessed", "acquired", "attestations_non_admitted"], threshold,
            ["block_code"])  # fmt: skip
    for r in rates + blocks:
        r["rncp_code"] = rncp_code
    rncp_type = STR if rncp_code is not None else EMPTY
    types_r |= {"rncp_code": rncp_type, "present": COUNT, "admitted": COUNT, "pass_rate": RATE}
    types_b |= {"rncp_code": rncp_type, "assessed": COUNT, "acquired": COUNT,
                "acquisition_rate": RATE, "attestations_non_admitted": COUNT}  # fmt: skip
    cols_b = ["session", "rncp_code", "academy_code", "academy_name", "access_route",
              "block_code", "assessed", "acquired", "acquisition_rate",
              "attestations_non_admitted"]  # fmt: skip
    cols_r = ["session", "rncp_code", "academy_code", "academy_name", "access_route", "present",
              "admitted", "pass_rate"]  # fmt: skip
    return {
        f"ndrc_{session}_pass_rates": _table(rates, cols_r, types_r, []),
        f"ndrc_{session}_blocks": _table(blocks, cols_b, types_b, ["block_code"]),
    }


def _csv_formatter(kind: str) -> Callable[[Any], str]:
    if kind == RATE:  # decimal comma, like pandas' to_csv(decimal=",")
        return lambda v: "" if v is None else str(v).replace(".", ",", 1)
    if kind == STR:
        return lambda v: "" if v is None else v
    return lambda v: "" if v is None else str(v)


def _write_csv(table: Table, path: Path) -> None:
    formats = [_csv_formatter(t) for t in table.types]
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(table.columns)
        writer.writerows([fmt(v) for fmt, v in zip(formats, row, strict=True)]
                         for row in table.rows)  # fmt: skip


def _arrow_array(typ: pa.DataType, values: tuple) -> pa.Array:
    """An Arrow array built from its buffers: `pa.array` would first import pandas (~1 s, more
    than the whole stage otherwise) to check whether the values are a pandas object."""
    import pyarrow as pa

    n = len(values)
    if pa.types.is_null(typ):
        return pa.nulls(n)
    nulls = sum(v is None for v in values)
    validity = None
    if nulls:
        bits = bytearray((n + 7) // 8)
        for i, v in enumerate(values):
            if v is not None:
                bits[i >> 3] |= 1 << (i & 7)
        validity = pa.py_buffer(bits)
    if pa.types.is_large_string(typ):
        encoded = [b"" if v is None else v.encode() for v in values]
        offsets = array("q", accumulate((len(b) for b in encoded), initial=0))
        buffers = [validity, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    else:
        code = "d" if pa.types.is_floating(typ) else INT_CODES[typ.bit_width]  # array module
        zero = 0.0 if code == "d" else 0
        buffers = [validity, pa.py_buffer(array(code, [zero if v is None else v for v in values]))]
    return pa.Array.from_buffers(typ, n, buffers, null_count=nulls)


def _write_parquet(table: Table, path: Path) -> None:
    """What `DataFrame.to_parquet(path, index=False)` wrote for the same frame, byte for byte:
    same Arrow schema, same pandas metadata (so pandas reads back the same dtypes)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow = {STR: pa.large_string(), COUNT: pa.int64(), RATE: pa.float64(), EMPTY: pa.null()}
    pandas_type = {STR: ("object", "str"), COUNT: ("int64", "Int64"),
                   RATE: ("float64", "Float64"), EMPTY: ("empty", "object")}  # fmt: skip
    columns = list(zip(*table.rows, strict=True)) if table.rows else [()] * len(table.columns)
    fields, arrays, meta = [], [], []
    for name, kind, values in zip(table.columns, table.types, columns, strict=True):
        typ = arrow.get(kind) or getattr(pa, kind)()
        fields.append(pa.field(name, typ))
        arrays.append(_arrow_array(typ, values))
        pd_type, np_type = pandas_type.get(kind, (kind, kind))
        meta.append({"name": name, "field_name": name, "pandas_type": pd_type,
                     "numpy_type": np_type, "metadata": None})  # fmt: skip
    pandas_meta = {
        "index_columns": [], "column_indexes": [], "columns": meta, "attributes": {},
        "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": version("pandas"),
    }  # fmt: skip
    schema = pa.schema(fields, metadata={b"pandas": json.dumps(pandas_meta).encode()})
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), path, compression="snappy")


def _write_xlsx(tables: dict[str, Table], path: Path, threshold: int, when: datetime) -> None:
    from openpyxl import Workbook

    # not write_only: without lxml it is no faster here, and it drops the sheets' <dimension>
    wb = Workbook()
    wb.remove(wb.active)
    for name, table in tables.items():
        ws = wb.create_sheet(name.split("_", 2)[2][:31])
        ws.append(table.columns)
        for row in table.rows:
            ws.append(row)  # aggregate rows only (a few hundred)
    ws = wb.create_sheet("colonnes")
    ws.append(["table", "colonne", "description"])
    for name, table in tables.items():
        for col in table.columns:
            ws.append([name, col, COLUMNS.get(col, "")])
    ws.append([])
    ws.append([SOURCES.format(threshold=threshold)])
    wb.properties.created = when
    wb.properties.modified = when
    wb.save(path)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_session(con: duckdb.DuckDBPyConnection, session: int, out: Path, threshold: int,
                  run_id: str, when: datetime) -> Path:  # fmt: skip
    tables = tables_for(con, session, threshold)
    tmp = out / f".{session}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    files = []
    for name, table in tables.items():
        _write_csv(table, tmp / f"{name}.csv")
        _write_parquet(table, tmp / f"{name}.parquet")
        files += [(f"{name}.csv", len(table)), (f"{name}.parquet", len(table))]
    xlsx = f"ndrc_{session}.xlsx"
    _write_xlsx(tables, tmp / xlsx, threshold, when)
    files.append((xlsx, sum(len(table) for table in tables.values())))
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "session": session,
        "run_id": run_id,
        "airflow_run_id": os.environ.get("AIRFLOW_CTX_DAG_RUN_ID"),
        "secrecy_threshold": threshold,
        "files": [{"file": f, "sha256": _sha256(tmp / f), "rows": n} for f, n in sorted(files)],
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    final = out / str(session)
    old = out / f".{session}.old"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def write_all(s: Settings) -> list[Path]:
    con = duckdb.connect(str(s.warehouse), read_only=True)
    try:
        sessions = [r[0] for r in con.execute(
            "SELECT DISTINCT session FROM marts.pass_rates ORDER BY 1").fetchall()]  # fmt: skip
        run = con.execute("SELECT max(run_id), max(run_at) FROM audit.dq_results").fetchone()
        run_id = run[0] or "unknown"
        when = run[1] or datetime(2000, 1, 1)
        written = [
            write_session(con, session, s.extracts_dir, s.secrecy_threshold, run_id, when)
            for session in sessions
        ]
    finally:
        con.close()
    log(f"extracts: {len(written)} session folder(s) in {s.extracts_dir}")
    return written
