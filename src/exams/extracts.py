"""Ministry reporting extracts (warehouse-contract.md), written after publication.

Per session, into `<EXAMS_EXTRACTS_DIR>/<session>/`: `ndrc_<session>_pass_rates` and
`ndrc_<session>_blocks` as CSV (UTF-8 with BOM, `;`, decimal comma), Parquet, one XLSX workbook
(one sheet per table and a sheet describing the columns) and `manifest.json`.

Statistical secrecy: a row whose population (present; assessed for blocks) is 1–4 shows its
counts and rate empty; complementary suppression then makes every line of the table (the route
rows of one académie with its TOUTES row; the académie rows of one route with its NAT row; per
block for blocks) hold no suppressed row or at least two, suppressing the smallest extra rows.
Aggregates are computed in DuckDB; the suppression walks the few hundred aggregate rows.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from exams.progress import log
from exams.settings import Settings

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
"""


def suppress(df: pd.DataFrame, population: str, threshold: int, by: list[str]) -> pd.Series:
    """Boolean mask of suppressed rows: primary (1 ≤ population < threshold) then
    complementary, until every line holds zero or at least two suppressed rows."""
    mask = (df[population] >= 1) & (df[population] < threshold)
    lines = [[*by, "academy_code"], [*by, "access_route"]]  # rows sharing these form a line
    changed = True
    while changed:
        changed = False
        for keys in lines:
            for _, idx in df.groupby(keys, sort=False).groups.items():
                line = df.loc[idx]
                hidden = mask.loc[idx]
                if hidden.sum() == 1:
                    candidates = line[~hidden]
                    if candidates.empty:
                        continue
                    positive = candidates[candidates[population] > 0]
                    pick = (positive if not positive.empty else candidates)[population].idxmin()
                    mask.loc[pick] = True
                    changed = True
    return mask


def _finish(df: pd.DataFrame, population: str, rate: str, numerator: str, counts: list[str],
            threshold: int, by: list[str]) -> pd.DataFrame:  # fmt: skip
    df = df.copy()
    df[rate] = (df[numerator] / df[population].where(df[population] > 0)).round(4)
    hidden = suppress(df, population, threshold, by)
    for col in [*counts, rate]:
        df[col] = df[col].astype("Float64").mask(hidden)
    for col in counts:
        df[col] = df[col].astype("Int64")
    return df


def _order(df: pd.DataFrame, extra: list[str]) -> pd.DataFrame:
    key = df.assign(
        _nat=df["academy_code"].eq(NATIONAL), _all=df["access_route"].eq(ALL)
    ).sort_values(["_nat", "academy_code", "_all", "access_route", *extra])
    return key.drop(columns=["_nat", "_all"]).reset_index(drop=True)


def tables_for(
    con: duckdb.DuckDBPyConnection, session: int, threshold: int
) -> dict[str, pd.DataFrame]:
    rncp = con.execute(
        "SELECT rncp_code FROM reference.ref_rncp_codes WHERE ? BETWEEN first_session AND "
        "last_session",
        [session],
    ).fetchone()
    rncp_code = rncp[0] if rncp else None
    rates = con.execute(PASS_RATES_SQL, {"session": session}).df()
    rates = _finish(rates, "present", "pass_rate", "admitted", ["present", "admitted"],
                    threshold, [])  # fmt: skip
    rates.insert(1, "rncp_code", rncp_code)
    blocks = con.execute(BLOCKS_SQL, {"session": session}).df()
    blocks = _finish(blocks, "assessed", "acquisition_rate", "acquired",
                     ["assessed", "acquired", "attestations_non_admitted"], threshold,
                     ["block_code"])  # fmt: skip
    blocks.insert(1, "rncp_code", rncp_code)
    cols_b = ["session", "rncp_code", "academy_code", "academy_name", "access_route",
              "block_code", "assessed", "acquired", "acquisition_rate",
              "attestations_non_admitted"]  # fmt: skip
    cols_r = ["session", "rncp_code", "academy_code", "academy_name", "access_route", "present",
              "admitted", "pass_rate"]  # fmt: skip
    return {
        f"ndrc_{session}_pass_rates": _order(rates[cols_r], []),
        f"ndrc_{session}_blocks": _order(blocks[cols_b], ["block_code"]),
    }


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, sep=";", decimal=",", index=False, encoding="utf-8-sig", lineterminator="\r\n")


def _write_xlsx(
    tables: dict[str, pd.DataFrame], path: Path, threshold: int, when: datetime
) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for name, df in tables.items():
        ws = wb.create_sheet(name.split("_", 2)[2][:31])
        ws.append(list(df.columns))
        for row in df.astype(object).where(df.notna(), None).itertuples(index=False):
            ws.append(list(row))  # aggregate rows only (a few hundred)
    ws = wb.create_sheet("colonnes")
    ws.append(["table", "colonne", "description"])
    for name, df in tables.items():
        for col in df.columns:
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
    for name, df in tables.items():
        _write_csv(df, tmp / f"{name}.csv")
        df.to_parquet(tmp / f"{name}.parquet", index=False)
        files += [(f"{name}.csv", len(df)), (f"{name}.parquet", len(df))]
    xlsx = f"ndrc_{session}.xlsx"
    _write_xlsx(tables, tmp / xlsx, threshold, when)
    files.append((xlsx, sum(len(df) for df in tables.values())))
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
