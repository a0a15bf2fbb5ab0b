"""What every chart of the dashboard bundle must show, as direct DuckDB queries on the warehouse,
and the helpers that ask Superset the same question and compare.

One entry per chart UUID in EXPECTED: the SQL computing the expected rows (grouping columns
first, then one column per metric, named like the chart's metric) and the grouping columns.
Rates are ratios of summed counts, never averages of row rates; their 95 % Wilson bounds are
computed here from the same sums with the formula of the contract (warehouse-contract.md,
"Uncertainty"), z read from dbt_project.yml and the secrecy threshold from exams.settings —
never from the bundle. A chart added to the bundle without an entry here fails
test_every_chart_has_an_expectation. Nothing is hard-coded: every figure comes from the
published tables.

The « Qualité des données » entries read the audit tables and marts.fct_candidate_session,
written here with FILTER / count() and joins on the reference seeds rather than the datasets'
CASE expressions and codes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
import yaml

from exams import settings

Z = float(
    yaml.safe_load((settings.DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))[
        "vars"
    ]["wilson_z"]
)
SECRECY_THRESHOLD = settings.load().secrecy_threshold


def wilson(k: str, n: str, side: str) -> str:
    """SQL of a bound of the 95 % Wilson interval of k / n (NULL when n = 0), in [0, 1]."""
    sign, clamp = ("-", "greatest(0.0") if side == "low" else ("+", "least(1.0")
    return (
        f"CASE WHEN ({n}) > 0 THEN {clamp}, (({k}) + {Z}^2 / 2 {sign} {Z} * "
        f"sqrt(({k}) * (({n}) - ({k})) / ({n})::DOUBLE + {Z}^2 / 4)) / (({n}) + {Z}^2)) END"
    )


def rate_with_bounds(name: str, k: str, n: str) -> str:
    """`name`, `name__yhat_lower`, `name__yhat_upper`: the rate k / n and its interval."""
    return (
        f"({k})::DOUBLE / nullif({n}, 0) AS {name}, {wilson(k, n, 'low')} AS {name}__yhat_lower, "
        f"{wilson(k, n, 'high')} AS {name}__yhat_upper"
    )


PASS = rate_with_bounds("taux_reussite", "SUM(admitted)", "SUM(present)")
PASS_RATE = "SUM(admitted)::DOUBLE / nullif(SUM(present), 0)"
ACQUISITION = rate_with_bounds("taux_acquisition", "SUM(acquired)", "SUM(assessed)")
BLOCKS_ONLY = "WHERE block_code IS NOT NULL"


def _by_sex(sex: str, name: str) -> str:
    k = f"SUM(admitted) FILTER (WHERE sex = '{sex}')"
    n = f"SUM(present) FILTER (WHERE sex = '{sex}')"
    return rate_with_bounds(name, k, n)


def _sex_rate(sex: str) -> str:
    return (
        f"SUM(admitted) FILTER (WHERE sex = '{sex}')::DOUBLE "
        f"/ nullif(SUM(present) FILTER (WHERE sex = '{sex}'), 0)"
    )


# The académie (pass_rates: row-level security applies) beside the nation (national_pass_rates:
# never restricted), grouped by `key`: what the virtual dataset academie_et_national gives.
def _academie_et_national(key: str, metrics: str) -> str:
    return f"""
        WITH a AS (SELECT {key}, SUM(admitted) AS ka, SUM(present) AS na
                   FROM marts.pass_rates GROUP BY {key}),
             n AS (SELECT {key}, SUM(admitted) AS kn, SUM(present) AS nn
                   FROM marts.national_pass_rates GROUP BY {key})
        SELECT {key}, {metrics} FROM a FULL JOIN n USING ({key})"""


ACADEMIE = rate_with_bounds("taux_academie", "ka", "na")
NATIONAL = rate_with_bounds("taux_national", "kn", "nn")

EXPECTED: dict[str, dict] = {
    # --- Taux de réussite ---------------------------------------------------------------
    "98a9dc88-e6c3-536f-9126-df3de36abc5a": {  # Taux de réussite national
        "keys": [],
        "sql": f"SELECT {PASS_RATE} AS taux_reussite FROM marts.national_pass_rates",
    },
    "e8c105c2-7863-5c67-bd6c-79595d3a431e": {  # Taux de réussite de l'académie
        "keys": [],
        "sql": f"SELECT {PASS_RATE} AS taux_reussite FROM marts.pass_rates",
    },
    "3fa30aac-cbfd-5363-9f0a-6da2795e7f41": {  # Candidats présents
        "keys": [],
        "sql": "SELECT SUM(present) AS presents FROM marts.pass_rates",
    },
    "b364aee4-7cbf-5092-8fca-dc5e25273a91": {  # Candidats admis
        "keys": [],
        "sql": "SELECT SUM(admitted) AS admis FROM marts.pass_rates",
    },
    "20abea8d-c559-586c-b745-8576973f4257": {  # Académie et France entière, par session
        "keys": ["session"],
        "sql": _academie_et_national(
            "session",
            f"{ACADEMIE}, ka::DOUBLE / nullif(na, 0) AS taux_academie__yhat, "
            f"{NATIONAL}, kn::DOUBLE / nullif(nn, 0) AS taux_national__yhat",
        ),
    },
    "64299f85-fbd5-50d6-a5ea-87123dfc08f5": {  # Taux par voie d'accès : académie et France
        "keys": ["access_route"],
        "sql": _academie_et_national(
            "access_route",
            "ka::DOUBLE / nullif(na, 0) AS taux_academie, "
            "kn::DOUBLE / nullif(nn, 0) AS taux_national",
        ),
    },
    "873533cb-81a6-5b9b-b9ef-cd2996c6728f": {  # Écart au taux national, par voie d'accès
        "keys": ["access_route"],
        "sql": _academie_et_national(
            "access_route",
            f"na AS presents_academie, {ACADEMIE}, nn AS presents_national, {NATIONAL}, "
            "100 * (ka::DOUBLE / nullif(na, 0) - kn::DOUBLE / nullif(nn, 0)) "
            "AS ecart_au_national",
        ),
    },
    "e3f7bd84-8dff-5c1c-a883-bd404f5027c3": {  # Résultats par voie d'accès
        "keys": ["access_route"],
        "sql": f"""SELECT access_route, SUM(registered) AS inscrits, SUM(present) AS presents,
                          SUM(admitted) AS admis, SUM(controle) AS controle,
                          SUM(refused) AS refuses, SUM(absent) AS absents, {PASS}
                   FROM marts.pass_rates GROUP BY access_route""",
    },
    "fd4ec6b0-590b-50e0-8757-2a865629b44d": {  # Taux de réussite par académie
        "keys": ["academy_name"],
        "sql": f"""SELECT academy_name, {PASS_RATE} AS taux_reussite
                   FROM marts.pass_rates GROUP BY academy_name""",
    },
    "893502c0-f36b-50cc-9789-1cc81df0b3e2": {  # Résultats par académie
        "keys": ["academy_code", "academy_name"],
        "sql": f"""SELECT academy_code, academy_name, SUM(registered) AS inscrits,
                          SUM(incomplete) AS incomplets, SUM(present) AS presents,
                          SUM(admitted) AS admis, SUM(controle) AS controle,
                          SUM(refused) AS refuses, SUM(absent) AS absents, {PASS}
                   FROM marts.pass_rates GROUP BY academy_code, academy_name""",
    },
    "387f3bf6-03d6-5d4f-b26b-73fe46b6893b": {  # Taux de réussite des femmes et des hommes
        "keys": ["access_route", "sex_label"],
        "sql": f"""SELECT access_route, sex_label, {PASS_RATE} AS taux_reussite
                   FROM marts.outcome_counts GROUP BY access_route, sex_label""",
    },
    "d2ed53bb-c04c-5002-9ba5-dd44d61e5ced": {  # Écart de réussite entre femmes et hommes
        "keys": ["access_route"],
        "sql": f"""SELECT access_route,
                          COALESCE(SUM(present) FILTER (WHERE sex = 'F'), 0) AS presents_femmes,
                          {_by_sex("F", "taux_femmes")},
                          COALESCE(SUM(present) FILTER (WHERE sex = 'M'), 0) AS presents_hommes,
                          {_by_sex("M", "taux_hommes")},
                          100 * ({_sex_rate("F")} - {_sex_rate("M")}) AS ecart_femmes_hommes
                   FROM marts.outcome_counts GROUP BY access_route""",
    },
    "e1c2b017-1cf4-5c85-ba64-fa67573f75ae": {  # Résultats par établissement
        "keys": ["academy_name", "etablissement"],
        # statistical secrecy: no rate, no interval below the threshold
        "sql": f"""SELECT academy_name,
                          CASE uai_etablissement WHEN 'NONE' THEN 'Sans établissement'
                               ELSE uai_etablissement END AS etablissement,
                          SUM(registered) AS inscrits, SUM(present) AS presents,
                          SUM(admitted) AS admis,
                          CASE WHEN SUM(present) >= {SECRECY_THRESHOLD}
                               THEN {PASS_RATE} END AS taux_reussite,
                          CASE WHEN SUM(present) >= {SECRECY_THRESHOLD}
                               THEN {wilson("SUM(admitted)", "SUM(present)", "low")}
                          END AS taux_reussite__yhat_lower,
                          CASE WHEN SUM(present) >= {SECRECY_THRESHOLD}
                               THEN {wilson("SUM(admitted)", "SUM(present)", "high")}
                          END AS taux_reussite__yhat_upper
                   FROM marts.establishment_results GROUP BY ALL""",
    },
    # --- Capitalisation des blocs --------------------------------------------------------
    "ea1cfc21-dc6c-5e56-89d1-c830ef4c5d46": {  # Taux d'acquisition des blocs
        "keys": [],
        "sql": f"""SELECT SUM(acquired)::DOUBLE / nullif(SUM(assessed), 0) AS taux_acquisition
                   FROM marts.block_capitalisation {BLOCKS_ONLY}""",
    },
    "03039c4d-1194-5df9-8994-8fd95fc1ff09": {  # Blocs acquis ou validés par des non-admis
        "keys": [],
        "sql": f"""SELECT SUM(acquired_by_non_admitted) AS acquis_non_admis
                   FROM marts.block_capitalisation {BLOCKS_ONLY}""",
    },
    "ffccf759-7d4e-57a5-a747-ba72bb24a630": {  # Blocs validés par VAE
        "keys": [],
        "sql": f"""SELECT SUM(vae_validated) AS valides_vae
                   FROM marts.block_capitalisation {BLOCKS_ONLY}""",
    },
    "87dd6d0b-9c97-5890-af44-e00d05546a53": {  # Taux d'acquisition par bloc et unité
        "keys": ["unit_label"],
        "sql": """SELECT unit_label, SUM(acquired)::DOUBLE / nullif(SUM(assessed), 0)
                         AS taux_acquisition
                  FROM marts.block_capitalisation GROUP BY unit_label""",
    },
    "1d43a4e7-a68f-5ced-8941-51dc5e2c9eb6": {  # Acquisition par bloc et unité
        "keys": ["unit_label"],
        "sql": f"""SELECT unit_label, SUM(assessed) AS evalues, {ACQUISITION},
                          SUM(acquired_by_non_admitted) AS acquis_non_admis,
                          SUM(vae_validated) AS valides_vae
                   FROM marts.block_capitalisation GROUP BY unit_label""",
    },
    "6c1429d9-615c-5fa5-8817-5600d1e76c50": {  # Blocs de compétences par voie d'accès
        "keys": ["unit_label", "access_route"],
        "sql": f"""SELECT unit_label, access_route, SUM(assessed) AS evalues,
                          SUM(acquired) AS acquis, {ACQUISITION},
                          SUM(vae_validated) AS valides_vae,
                          SUM(acquired_by_non_admitted) AS acquis_non_admis
                   FROM marts.block_capitalisation {BLOCKS_ONLY}
                   GROUP BY unit_label, access_route""",
    },
    # --- Qualité des données ------------------------------------------------------------
    "f1568d6d-7c06-5b68-be56-b75079e2a459": {  # Fichiers reçus
        "keys": [],
        "sql": "SELECT count(*) AS fichiers FROM audit.file_manifest",
    },
    "6bbdfc83-bc91-55d7-9134-fe9efc66e073": {  # Lignes chargées: files whose rows reach marts
        "keys": [],
        "sql": """SELECT COALESCE(SUM(m.rows_loaded) FILTER (WHERE s.reaches_marts), 0)
                         AS lignes_chargees
                  FROM audit.file_manifest AS m
                  JOIN reference.ref_file_statuses AS s ON s.file_status = m.status""",
    },
    "3fa2b328-993e-5f33-ada9-69003d222232": {  # Lignes des fichiers rejetés
        "keys": [],
        "sql": """SELECT count(*) FILTER (WHERE scope = 'file') AS lignes_fichiers_rejetes
                  FROM audit.quarantine""",
    },
    "4f946527-1389-5a6b-8a87-8a178ddda241": {  # Lignes rejetées une à une
        "keys": [],
        "sql": """SELECT count(*) FILTER (WHERE scope = 'row') AS lignes_une_a_une
                  FROM audit.quarantine""",
    },
    "3f828b89-9942-5329-91a5-852470671399": {  # Écarts de décision du jury
        "keys": [],
        "sql": """SELECT count(*) FILTER (WHERE decision_matches = false) AS ecarts_decision
                   FROM marts.fct_candidate_session""",
    },
    "4158c4dd-20d6-5129-a438-7e2491950216": {  # Fichiers par statut (French labels)
        "keys": ["status_label"],
        "sql": """SELECT s.file_status_label AS status_label, count(*) AS fichiers
                  FROM audit.file_manifest AS m
                  JOIN reference.ref_file_statuses AS s ON s.file_status = m.status
                  GROUP BY ALL""",
    },
    "1ae6c688-b095-5f8a-a921-47680e6714c3": {  # Lignes en quarantaine par motif
        "keys": ["scope_label", "reason_label"],
        "sql": """SELECT CASE q.scope WHEN 'file' THEN 'Fichier rejeté en entier'
                              WHEN 'row' THEN 'Ligne rejetée seule' END AS scope_label,
                         r.label AS reason_label, count(*) AS lignes,
                         count(DISTINCT q.file_name) AS fichiers
                  FROM audit.quarantine AS q
                  JOIN reference.ref_reason_codes AS r USING (reason_code)
                  GROUP BY ALL""",
    },
    "ac614e54-c2b8-5132-8e14-f46fce70e098": {  # Détail des fichiers reçus
        "keys": ["session", "academy_name", "file_name", "status_label", "motif", "hint"],
        "sql": """SELECT m.session, a.academy_name, m.file_name,
                         s.file_status_label AS status_label,
                         COALESCE(r.label, m.reason) AS motif, r.hint,
                         SUM(m.rows_total) AS lignes_recues,
                         COALESCE(SUM(m.rows_loaded) FILTER (WHERE s.reaches_marts), 0)
                           AS lignes_chargees,
                         SUM(m.rows_quarantined) AS lignes_quarantaine
                  FROM audit.file_manifest AS m
                  JOIN reference.ref_file_statuses AS s ON s.file_status = m.status
                  LEFT JOIN reference.ref_reason_codes AS r USING (reason_code)
                  LEFT JOIN reference.ref_academies AS a USING (academy_code)
                  GROUP BY ALL""",
    },
    "d8164ae5-8115-562f-8ba9-a27d46a2b5eb": {  # Contrôles en échec
        "keys": ["run_id", "suite", "expectation", "column_name", "niveau"],
        "sql": """SELECT run_id, suite, expectation, column_name,
                         CASE WHEN blocking THEN 'Bloquant' ELSE 'Avertissement' END AS niveau,
                         SUM(unexpected_count) AS valeurs_en_ecart
                  FROM audit.dq_results WHERE success = false GROUP BY ALL""",
    },
    "99d40978-f88a-56f6-b604-46b4536eee0f": {  # Contrôles par exécution
        "keys": ["run_id", "suite"],
        "sql": """SELECT run_id, suite, count(*) AS controles,
                          count(*) FILTER (WHERE success IS NOT TRUE) AS echecs,
                          count(*) FILTER (WHERE success = false AND blocking) AS echecs_bloquants,
                          SUM(unexpected_count) AS valeurs_en_ecart
                   FROM audit.dq_results GROUP BY run_id, suite""",
    },
    "0f897cd9-6d80-59f9-80f0-afa4fd7b12fb": {  # Écarts jury par session et académie
        "keys": ["session", "academy_name"],
        "sql": """SELECT f.session, a.academy_name, count(f.decision_matches) AS candidats_compares,
                          count(*) FILTER (WHERE f.decision_matches = false) AS ecarts_decision,
                          count(*) FILTER (WHERE f.average_matches = false) AS ecarts_moyenne,
                          count(*) FILTER (WHERE f.decision_matches = false)
                            / NULLIF(count(f.decision_matches), 0) AS taux_ecart_decision
                   FROM marts.fct_candidate_session AS f
                   JOIN reference.ref_academies AS a USING (academy_code)
                   GROUP BY ALL""",
    },
}


# ---- the warehouse ------------------------------------------------------------------------
def warehouse_rows(warehouse: Path, sql: str, params: list | None = None) -> list[dict]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cur = con.execute(sql, params or [])
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()


def scoped_rows(
    warehouse: Path, sql: str, latest_session: bool = False, academy: str | None = None
) -> list[dict]:
    """`sql` run on the warehouse as a user sees it: only académie `academy`'s rows of the marts
    and audit tables that have an academy_code (row-level security; national_pass_rates has
    none, so it stays whole) and/or only the latest session (a Session filter whose default is
    its first value, values sorted descending). The reference seeds are read as they are."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{warehouse}' AS wh (READ_ONLY)")
        tables = con.execute(
            """SELECT schema_name, table_name, list(column_name) FROM duckdb_columns()
               WHERE database_name = 'wh' AND schema_name IN ('marts', 'audit', 'reference')
               GROUP BY ALL"""
        ).fetchall()
        for schema in {t[0] for t in tables}:
            con.execute(f"CREATE SCHEMA {schema}")
        for schema, table, columns in tables:
            source = f"(SELECT * FROM wh.{schema}.{table}"
            if academy is not None and "academy_code" in columns and schema != "reference":
                source += f" WHERE academy_code = '{academy}'"
            source += ")"
            where = ""
            if latest_session and "session" in columns and schema != "reference":
                where = f"WHERE session = (SELECT max(session) FROM {source})"
            con.execute(f"CREATE VIEW {schema}.{table} AS SELECT * FROM {source} {where}")
        cur = con.execute(sql)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()


# ---- Superset -------------------------------------------------------------------------------
def query_from_params(params: dict) -> dict:
    """The query a chart's form data asks for (what the UI's buildQuery sends, minus display)."""
    viz = params["viz_type"]
    if viz == "big_number_total":
        columns, metrics = [], [params["metric"]]
    elif viz == "table":
        assert params.get("query_mode", "aggregate") == "aggregate"
        columns, metrics = list(params["groupby"]), list(params["metrics"])
    elif viz.startswith("echarts_timeseries"):
        columns, metrics = [params["x_axis"], *params.get("groupby", [])], list(params["metrics"])
    else:
        raise AssertionError(f"no query builder for viz_type {viz}")
    filters, where = [], []
    for f in params.get("adhoc_filters", []):
        if f["expressionType"] == "SQL":
            assert f["clause"] == "WHERE"
            where.append(f"({f['sqlExpression']})")
        else:
            filters.append({"col": f["subject"], "op": f["operator"], "val": f.get("comparator")})
    orderby = []
    if viz == "table" and params.get("timeseries_limit_metric"):
        orderby = [[params["timeseries_limit_metric"], not params.get("order_desc", False)]]
    return {
        "columns": columns,
        "metrics": metrics,
        "filters": filters,
        "extras": {"where": " AND ".join(where), "having": ""},
        "row_limit": params.get("row_limit", 10000),
        "orderby": orderby,
    }


def chart_payload(api, chart_uuid: str, extra_filters: list[dict] | None = None) -> dict:
    """What the UI posts to /api/v1/chart/data for a chart (read as admin: `api`)."""
    chart = api.get(f"/api/v1/chart/{chart_uuid}")["result"]
    params = json.loads(chart["params"])
    query = query_from_params(params)
    query["filters"] += extra_filters or []
    return {
        "datasource": {"id": chart["datasource_id"], "type": chart["datasource_type"]},
        "force": True,
        "queries": [query],
        "result_format": "json",
        "result_type": "full",
        "_name": chart["slice_name"],
    }


def chart_data(api, chart_uuid: str, extra_filters: list[dict] | None = None, as_user=None):
    """The chart's rows, in Superset's order, as `as_user` (default: `api`, the admin) gets
    them."""
    payload = chart_payload(api, chart_uuid, extra_filters)
    name = payload.pop("_name")
    r = (as_user or api).post("/api/v1/chart/data", payload)
    assert r.status_code == 200, f"{name}: {r.status_code} {r.text[:800]}"
    result = r.json()["result"][0]
    assert not result.get("error"), result.get("error")
    return result["data"]


def same_number(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)


def assert_rows_match(got: list[dict], expected: list[dict], keys: list[str], label: str) -> None:
    def index(rows):
        return {tuple(r[k] for k in keys): r for r in rows}

    got_i, exp_i = index(got), index(expected)
    assert len(got_i) == len(got), f"{label}: duplicate groups in Superset's answer"
    assert set(got_i) == set(exp_i), f"{label}: groups differ: {set(got_i) ^ set(exp_i)}"
    assert exp_i, f"{label}: the warehouse gives no rows to compare"
    for key, exp_row in exp_i.items():
        for col, value in exp_row.items():
            if col in keys:
                continue
            assert col in got_i[key], f"{label}: no column {col} in {sorted(got_i[key])}"
            assert same_number(got_i[key][col], value), (
                f"{label} {key} {col}: Superset {got_i[key][col]!r} != warehouse {value!r}"
            )
