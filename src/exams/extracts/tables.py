"""The two tables of a session's extract, aggregated in DuckDB from the published marts, with
their rates and statistical secrecy (`secrecy`) applied.

`ndrc_<session>_pass_rates`: one row per académie × access route, one per académie with access
route TOUTES, and the national rows (academy_code NAT) per route and TOUTES.
`ndrc_<session>_blocks`: the same grain × block (BC01, BC02, BC03).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from exams.extracts.secrecy import suppress

ALL_ROUTES = "TOUTES"
NATIONAL = "NAT"
NATIONAL_NAME = "France entière"


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    description: str  # in French, for the XLSX workbook's column sheet
    source: str


@dataclass
class Table:
    name: str  # file stem: ndrc_<session>_<kind>
    kind: str  # pass_rates or blocks: the XLSX sheet
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]]

    def __len__(self) -> int:
        return len(self.rows)

    def to_arrow(self) -> pa.Table:
        schema = pa.schema([pa.field(c.name, c.type) for c in self.columns])
        return pa.Table.from_pylist(self.rows, schema=schema)


def _keys(mart: str, academy_names: str) -> tuple[Column, ...]:
    return (
        Column("session", pa.int32(), "Session d'examen (année).", f"{mart}.session"),
        Column("rncp_code", pa.string(),
               "Code RNCP certifié par la session (RNCP34030 jusqu'en 2023, RNCP38368 depuis "
               "2024).", "reference.ref_rncp_codes (first_session ≤ session ≤ last_session)"),
        Column("academy_code", pa.string(),
               f"Code officiel de l'académie ; {NATIONAL} pour l'ensemble national.",
               f"{mart}.academy_code"),
        Column("academy_name", pa.string(), "Nom de l'académie.", academy_names),
        Column("access_route", pa.string(),
               f"Voie d'accès de la fiche RNCP ; {ALL_ROUTES} pour l'ensemble des voies.",
               f"{mart}.access_route"),
    )  # fmt: skip


PASS_RATES = (
    *_keys("marts.pass_rates", "marts.pass_rates.academy_name"),
    Column("present", pa.int64(),
           "Présents (candidats complets ayant au moins une note, plus les candidats VAE).",
           "somme de marts.pass_rates.present"),
    Column("admitted", pa.int64(), "Admis (décision recalculée selon les règles du diplôme).",
           "somme de marts.pass_rates.admitted"),
    Column("pass_rate", pa.float64(), "Taux de réussite : admis / présents, 4 décimales.",
           "admitted / present"),
)  # fmt: skip
BLOCKS = (
    *_keys("marts.block_capitalisation", "reference.ref_academies.academy_name"),
    Column("block_code", pa.string(), "Bloc de compétences (BC01, BC02, BC03).",
           "marts.block_capitalisation.block_code"),
    Column("assessed", pa.int64(), "Unités du bloc évaluées cette session.",
           "somme de marts.block_capitalisation.assessed"),
    Column("acquired", pa.int64(), "Unités du bloc acquises (note ≥ 10).",
           "somme de marts.block_capitalisation.acquired"),
    Column("acquisition_rate", pa.float64(),
           "Taux d'acquisition : acquises / évaluées, 4 décimales.", "acquired / assessed"),
    Column("attestations_non_admitted", pa.int64(),
           "Blocs acquis ou validés par VAE par des candidats non admis (attestations de blocs).",
           "somme de marts.block_capitalisation.acquired_by_non_admitted"),
)  # fmt: skip

# Rows come in (academy_code, access_route[, block_code]) order: the suppression walks them in
# that order (its tie-break is the first smallest row of a line).
PASS_RATES_SQL = """
WITH base AS (
    SELECT session, academy_code, academy_name, access_route,
        sum(present)::BIGINT AS present, sum(admitted)::BIGINT AS admitted
    FROM marts.pass_rates WHERE session = $session GROUP BY ALL
)
SELECT session, academy_code, academy_name, access_route, present, admitted FROM base
UNION ALL
SELECT session, academy_code, academy_name, $all, sum(present), sum(admitted)
FROM base GROUP BY ALL
UNION ALL
SELECT session, $nat, $nat_name, access_route, sum(present), sum(admitted)
FROM base GROUP BY ALL
UNION ALL
SELECT session, $nat, $nat_name, $all, sum(present), sum(admitted)
FROM base GROUP BY ALL
ORDER BY academy_code, access_route
"""

BLOCKS_SQL = """
WITH base AS (
    SELECT b.session, b.academy_code, a.academy_name, b.access_route, b.block_code,
        sum(b.assessed)::BIGINT AS assessed, sum(b.acquired)::BIGINT AS acquired,
        sum(b.acquired_by_non_admitted)::BIGINT AS attestations_non_admitted
    FROM marts.block_capitalisation AS b
    LEFT JOIN reference.ref_academies AS a USING (academy_code)
    WHERE b.session = $session AND b.block_code IS NOT NULL GROUP BY ALL
)
SELECT session, academy_code, academy_name, access_route, block_code, assessed, acquired,
    attestations_non_admitted FROM base
UNION ALL
SELECT session, academy_code, academy_name, $all, block_code, sum(assessed), sum(acquired),
    sum(attestations_non_admitted) FROM base GROUP BY ALL
UNION ALL
SELECT session, $nat, $nat_name, access_route, block_code, sum(assessed), sum(acquired),
    sum(attestations_non_admitted) FROM base GROUP BY ALL
UNION ALL
SELECT session, $nat, $nat_name, $all, block_code, sum(assessed), sum(acquired),
    sum(attestations_non_admitted) FROM base GROUP BY ALL
ORDER BY academy_code, access_route, block_code
"""

RNCP_SQL = """
SELECT rncp_code FROM reference.ref_rncp_codes
WHERE $session BETWEEN first_session AND last_session
"""


def _rows(con: duckdb.DuckDBPyConnection, sql: str, session: int) -> list[dict[str, Any]]:
    params = {"session": session, "all": ALL_ROUTES, "nat": NATIONAL, "nat_name": NATIONAL_NAME}
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _rate(numerator: int | None, population: int | None) -> float | None:
    if numerator is None or population is None or population <= 0:
        return None
    return round(numerator / population * 10000.0) / 10000.0  # 4 decimals, half to even


def _finish(rows: list[dict], population: str, numerator: str, rate: str, counts: list[str],
            threshold: int, by: list[str]) -> None:  # fmt: skip
    """Rates, then secrecy: a hidden row shows its counts and rate empty."""
    for r in rows:
        r[rate] = _rate(r[numerator], r[population])
    for r, hide in zip(rows, suppress(rows, population, threshold, by), strict=True):
        if hide:
            r.update(dict.fromkeys([*counts, rate]))


def _nulls_last(v: Any) -> tuple:
    return (v is None, "" if v is None else v)


def _file_order(row: dict[str, Any]) -> tuple:
    """Académies, then NAT; within each, routes, then TOUTES; then blocks; nulls last."""
    return (
        row["academy_code"] == NATIONAL, _nulls_last(row["academy_code"]),
        row["access_route"] == ALL_ROUTES, _nulls_last(row["access_route"]),
        _nulls_last(row.get("block_code")),
    )  # fmt: skip


def tables_for(con: duckdb.DuckDBPyConnection, session: int, threshold: int) -> list[Table]:
    """The session's two tables, as the files show them (secrecy applied, file order)."""
    rncp = con.execute(RNCP_SQL, {"session": session}).fetchone()
    rates = _rows(con, PASS_RATES_SQL, session)
    _finish(rates, "present", "admitted", "pass_rate", ["present", "admitted"], threshold, [])
    blocks = _rows(con, BLOCKS_SQL, session)
    _finish(blocks, "assessed", "acquired", "acquisition_rate",
            ["assessed", "acquired", "attestations_non_admitted"], threshold,
            ["block_code"])  # fmt: skip
    for r in rates + blocks:
        r["rncp_code"] = rncp[0] if rncp else None
    return [
        Table(f"ndrc_{session}_pass_rates", "pass_rates", PASS_RATES,
              sorted(rates, key=_file_order)),
        Table(f"ndrc_{session}_blocks", "blocks", BLOCKS,
              sorted(blocks, key=_file_order)),
    ]  # fmt: skip
