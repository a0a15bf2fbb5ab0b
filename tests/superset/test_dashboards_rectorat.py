"""What a rectorat analyst needs (issue #19), through Superset's REST API as the analyst.

An académie role reads its académie's rows (row-level security) and the national benchmark
whole: the national card is the nation's rate, the académie card its own; the établissement
table holds its établissements only, small populations marked (no rate) and not ranked; the
breakdown by sex has both sexes; the intervals Superset recomputes from summed counts are the
Wilson intervals the warehouse publishes. Every expected figure is computed from the warehouse.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from superset_expectations import (
    EXPECTED,
    SECRECY_THRESHOLD,
    assert_rows_match,
    chart_data,
    chart_payload,
    same_number,
    scoped_rows,
    warehouse_rows,
)
from superset_harness import Api

from exams import reference
from exams.superset_app import BUNDLE_DIR
from exams.superset_app import bundle as bundle_mod

pytestmark = pytest.mark.slow

BUNDLE = bundle_mod.load(BUNDLE_DIR)
CHARTS = {c["slice_name"]: str(c["uuid"]) for c in BUNDLE.charts.values()}
DATASETS = {d["table_name"]: d for d in BUNDLE.datasets.values()}
NATIONAL_CARD = CHARTS["Taux de réussite national"]
ACADEMY_CARD = CHARTS["Taux de réussite de l'académie"]
BY_SESSION = CHARTS["Académie et France entière, par session"]
VS_NATIONAL = CHARTS["Écart au taux national, par voie d'accès"]
ESTABLISHMENTS = CHARTS["Résultats par établissement"]
BY_SEX = CHARTS["Taux de réussite des femmes et des hommes, par voie d'accès"]
SEX_GAP = CHARTS["Écart de réussite entre femmes et hommes"]
ACADEMIES = ("10", "24", "70")  # the académies of the committed sample (conftest.py)


def only(rows: list[dict]):
    (row,) = rows
    (value,) = row.values()
    return value


@pytest.mark.parametrize("code", ACADEMIES)
def test_national_card_is_the_nation_and_the_academy_card_its_own(
    api: Api, rectorat_apis: dict, superset_warehouse: Path, code: str
):
    analyst = rectorat_apis[code]
    nation = only(
        warehouse_rows(
            superset_warehouse,
            "SELECT SUM(admitted)::DOUBLE / SUM(present) FROM marts.national_pass_rates",
        )
    )
    # the benchmark is the sum over every académie, not the analyst's rows
    all_academies = only(
        warehouse_rows(
            superset_warehouse, "SELECT SUM(admitted)::DOUBLE / SUM(present) FROM marts.pass_rates"
        )
    )
    assert same_number(nation, all_academies)
    own = only(
        warehouse_rows(
            superset_warehouse,
            """SELECT SUM(admitted)::DOUBLE / SUM(present) FROM marts.pass_rates
               WHERE academy_code = ?""",
            [code],
        )
    )
    assert same_number(only(chart_data(api, NATIONAL_CARD, as_user=analyst)), nation)
    assert same_number(only(chart_data(api, ACADEMY_CARD, as_user=analyst)), own)

    # what the dashboard shows by default: the latest session (and any access route)
    session, route = warehouse_rows(
        superset_warehouse,
        """SELECT session, access_route FROM marts.pass_rates WHERE academy_code = ?
           GROUP BY ALL ORDER BY session DESC, SUM(present) DESC, access_route LIMIT 1""",
        [code],
    )[0].values()
    filters = [
        {"col": "session", "op": "IN", "val": [session]},
        {"col": "access_route", "op": "IN", "val": [route]},
    ]
    nation_now = only(
        warehouse_rows(
            superset_warehouse,
            """SELECT SUM(admitted)::DOUBLE / SUM(present) FROM marts.national_pass_rates
               WHERE session = ? AND access_route = ?""",
            [session, route],
        )
    )
    own_now = only(
        warehouse_rows(
            superset_warehouse,
            """SELECT SUM(admitted)::DOUBLE / SUM(present) FROM marts.pass_rates
               WHERE session = ? AND access_route = ? AND academy_code = ?""",
            [session, route, code],
        )
    )
    got = chart_data(api, NATIONAL_CARD, filters, as_user=analyst)
    assert same_number(only(got), nation_now)
    got = chart_data(api, ACADEMY_CARD, filters, as_user=analyst)
    assert same_number(only(got), own_now)


@pytest.mark.parametrize("code", ACADEMIES)
def test_academy_against_the_nation_over_sessions(
    api: Api, rectorat_apis: dict, superset_warehouse: Path, code: str
):
    """Two series: the académie's rate (its rows only) and the national rate (every académie),
    each with its interval; one copy of the national rows reaches the analyst."""
    rows = chart_data(api, BY_SESSION, as_user=rectorat_apis[code])
    nation = warehouse_rows(
        superset_warehouse,
        """SELECT session, SUM(admitted)::DOUBLE / SUM(present) AS rate
           FROM marts.national_pass_rates GROUP BY session""",
    )
    by_session = {r["session"]: r for r in rows}
    assert set(by_session) == {r["session"] for r in nation}
    for r in nation:
        got = by_session[r["session"]]
        assert same_number(got["taux_national"], r["rate"]), r
        assert got["taux_national__yhat_lower"] <= r["rate"] <= got["taux_national__yhat_upper"]
    spec = EXPECTED[BY_SESSION]
    expected = scoped_rows(superset_warehouse, spec["sql"], academy=code)
    assert_rows_match(rows, expected, spec["keys"], f"par session ({code})")


def test_national_interval_is_the_nations_whatever_the_academies_chosen(
    api: Api, superset_warehouse: Path
):
    """Admin choosing two académies in the Académie filter: the national columns stay those of
    the nation, interval included (the national rows are not counted once per académie)."""
    names = [
        r["academy_name"]
        for r in warehouse_rows(
            superset_warehouse,
            "SELECT DISTINCT academy_name FROM marts.pass_rates ORDER BY academy_name LIMIT 2",
        )
    ]
    assert len(names) == 2
    got = chart_data(api, VS_NATIONAL, [{"col": "academy_name", "op": "IN", "val": names}])
    spec = EXPECTED[VS_NATIONAL]
    chosen = ", ".join(f"'{n}'" for n in names)
    sql = spec["sql"].replace(
        "FROM marts.pass_rates", f"FROM marts.pass_rates WHERE academy_name IN ({chosen})"
    )
    assert_rows_match(got, warehouse_rows(superset_warehouse, sql), spec["keys"], "2 académies")


@pytest.mark.parametrize("code", ACADEMIES)
def test_establishment_table_holds_only_the_academys_establishments(
    api: Api, rectorat_apis: dict, superset_warehouse: Path, code: str
):
    rows = chart_data(api, ESTABLISHMENTS, as_user=rectorat_apis[code])
    own = warehouse_rows(
        superset_warehouse,
        """SELECT DISTINCT academy_name,
                  CASE uai_etablissement WHEN 'NONE' THEN 'Sans établissement'
                       ELSE uai_etablissement END AS etablissement
           FROM marts.establishment_results WHERE academy_code = ?""",
        [code],
    )
    assert {(r["academy_name"], r["etablissement"]) for r in rows} == {
        (r["academy_name"], r["etablissement"]) for r in own
    }


def test_small_establishments_are_marked_not_ranked(api: Api, superset_warehouse: Path):
    """Below the secrecy threshold (exams.settings) an établissement has no rate nor interval
    and comes after every ranked one; the others are sorted by rate, highest first."""
    # a session × access route where some établissement has 1 to threshold − 1 présents and
    # another at least the threshold (the warehouse has one: checked, not assumed)
    found = warehouse_rows(
        superset_warehouse,
        f"""WITH g AS (SELECT session, access_route, academy_code, uai_etablissement,
                              SUM(present) AS p
                       FROM marts.establishment_results GROUP BY ALL)
            SELECT session, access_route FROM g GROUP BY ALL
            HAVING bool_or(p BETWEEN 1 AND {SECRECY_THRESHOLD} - 1)
               AND bool_or(p >= {SECRECY_THRESHOLD})
            ORDER BY session DESC, access_route LIMIT 1""",
    )
    assert found, "the sample has small and large établissements in some session × route"
    session, route = found[0].values()
    filters = [
        {"col": "session", "op": "IN", "val": [session]},
        {"col": "access_route", "op": "IN", "val": [route]},
    ]
    rows = chart_data(api, ESTABLISHMENTS, filters)
    small = [r for r in rows if r["presents"] < SECRECY_THRESHOLD]
    ranked = [r for r in rows if r["presents"] >= SECRECY_THRESHOLD]
    assert small and ranked
    for r in small:
        assert r["taux_reussite"] is None, r
        assert r["taux_reussite__yhat_lower"] is None and r["taux_reussite__yhat_upper"] is None
    for r in ranked:
        assert r["taux_reussite"] is not None, r
        assert r["taux_reussite__yhat_lower"] <= r["taux_reussite"] <= r["taux_reussite__yhat_upper"]  # fmt: skip
    assert rows[: len(ranked)] == ranked, "the small populations come last"
    rates = [r["taux_reussite"] for r in ranked]
    assert rates == sorted(rates, reverse=True), "ranked by rate, highest first"


@pytest.mark.parametrize("code", ACADEMIES)
def test_breakdown_by_sex_has_both_sexes(
    api: Api, rectorat_apis: dict, superset_warehouse: Path, code: str
):
    analyst = rectorat_apis[code]
    labels = {r["sex_label"] for r in reference.rows("ref_sexes")}
    rows = chart_data(api, BY_SEX, as_user=analyst)
    assert {r["sex_label"] for r in rows} == labels
    spec = EXPECTED[BY_SEX]
    assert_rows_match(rows, scoped_rows(superset_warehouse, spec["sql"], academy=code),
                      spec["keys"], f"par sexe ({code})")  # fmt: skip
    # the gap table's Total row: the same metrics over every route (the query the table's
    # totals run, no grouping) — the académie's gap, never an average of the routes' gaps
    payload = chart_payload(api, SEX_GAP)
    payload.pop("_name")
    payload["queries"][0].update(columns=[], orderby=[])
    r = analyst.post("/api/v1/chart/data", payload)
    assert r.status_code == 200, r.text[:500]
    (total,) = r.json()["result"][0]["data"]
    sql = (
        EXPECTED[SEX_GAP]["sql"]
        .replace("access_route,", "", 1)
        .replace("GROUP BY access_route", "")
    )
    (expected,) = scoped_rows(superset_warehouse, sql, academy=code)
    assert expected["presents_femmes"] and expected["presents_hommes"]
    for key, value in expected.items():
        assert same_number(total[key], value), (key, total[key], value)


# (dataset, its grain, the rate's counts and published bounds): Superset's Wilson metrics,
# grouped by the mart's own grain, give back the bounds dbt published for each row.
PUBLISHED_INTERVALS = [
    ("pass_rates", ["session", "academy_code", "candidate_category"], "taux_reussite",
     "pass_rate_low", "pass_rate_high", "present"),
    ("national_pass_rates", ["session", "candidate_category"], "taux_reussite",
     "pass_rate_low", "pass_rate_high", "present"),
    ("establishment_results", ["session", "academy_code", "uai_etablissement",
     "candidate_category"], "taux_reussite", "pass_rate_low", "pass_rate_high", "present"),
    ("block_capitalisation", ["session", "academy_code", "candidate_category", "unit_code"],
     "taux_acquisition", "acquisition_rate_low", "acquisition_rate_high", "assessed"),
]  # fmt: skip


@pytest.mark.parametrize("table,grain,rate,low,high,population", PUBLISHED_INTERVALS,
                         ids=[p[0] for p in PUBLISHED_INTERVALS])  # fmt: skip
def test_intervals_are_the_published_wilson_intervals(
    api: Api,
    superset_warehouse: Path,
    table: str,
    grain: list[str],
    rate: str,
    low: str,
    high: str,
    population: str,
):
    datasets = {d["table_name"]: d["id"] for d in api.get("/api/v1/dataset/", q="(page_size:100)")["result"]}  # fmt: skip
    # one session (the latest) keeps the answer well below Superset's row limit
    (session,) = warehouse_rows(superset_warehouse, f"SELECT max(session) FROM marts.{table}")[0].values()  # fmt: skip
    r = api.post(
        "/api/v1/chart/data",
        {
            "datasource": {"id": datasets[table], "type": "table"},
            "force": True,
            "queries": [{
                "columns": grain,
                "metrics": [f"{rate}__yhat_lower", f"{rate}__yhat_upper"],
                "filters": [{"col": "session", "op": "==", "val": session}],
                "extras": {"where": "", "having": ""},
                "row_limit": 100000, "orderby": [],
            }],
            "result_format": "json",
            "result_type": "full",
        },
    )  # fmt: skip
    assert r.status_code == 200, r.text[:500]
    got = {tuple(row[k] for k in grain): row for row in r.json()["result"][0]["data"]}
    published = warehouse_rows(
        superset_warehouse,
        f"SELECT {', '.join(grain)}, {low} AS low, {high} AS high, {population} AS n "
        f"FROM marts.{table} WHERE session = ?",
        [session],
    )
    assert len(got) == len(published) > 0
    secret = table == "establishment_results"  # no interval below the secrecy threshold
    for row in published:
        mine = got[tuple(row[k] for k in grain)]
        if secret and row["n"] < SECRECY_THRESHOLD:
            assert mine[f"{rate}__yhat_lower"] is None, row
            continue
        assert same_number(mine[f"{rate}__yhat_lower"], row["low"]), (row, mine)
        assert same_number(mine[f"{rate}__yhat_upper"], row["high"]), (row, mine)
