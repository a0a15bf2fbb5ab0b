"""End to end: a real Superset on the published warehouse, through its REST API and a browser.

Every figure is checked against a direct DuckDB query on the mart (tests/superset/
superset_expectations.py); nothing is hard-coded.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import threading
import time
from pathlib import Path

import duckdb
import pytest
import requests
from superset_expectations import EXPECTED
from superset_harness import ARTIFACTS, Api, SupersetServer

from exams.superset_app import BUNDLE_DIR
from exams.superset_app import bundle as bundle_mod

pytestmark = pytest.mark.slow

BUNDLE = bundle_mod.load(BUNDLE_DIR)
CHARTS = {str(c["uuid"]): c for c in BUNDLE.charts.values()}
DATASET_METRICS = {
    str(ds["uuid"]): {m["metric_name"]: m for m in ds["metrics"]} for ds in BUNDLE.datasets.values()
}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--no-first-run",
]


# ---- helpers ------------------------------------------------------------------------------
def warehouse_rows(warehouse: Path, sql: str, params: list | None = None) -> list[dict]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cur = con.execute(sql, params or [])
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()


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
    return {
        "columns": columns,
        "metrics": metrics,
        "filters": filters,
        "extras": {"where": " AND ".join(where), "having": ""},
        "row_limit": params.get("row_limit", 10000),
        "orderby": [],
    }


def scoped_rows(
    warehouse: Path, sql: str, latest_session: bool = False, academy: str | None = None
) -> list[dict]:
    """`sql` run on the marts and audit tables as a user sees them: only académie `academy`'s
    rows (row-level security) and/or only the latest session (a Session filter whose default
    is its first value, values sorted descending) of the tables that have those columns."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{warehouse}' AS wh (READ_ONLY)")
        tables = con.execute(
            """SELECT schema_name, table_name, list(column_name) FROM duckdb_columns()
               WHERE database_name = 'wh' AND schema_name IN ('marts', 'audit')
               GROUP BY ALL"""
        ).fetchall()
        for schema in {t[0] for t in tables}:
            con.execute(f"CREATE SCHEMA {schema}")
        for schema, table, columns in tables:
            source = f"(SELECT * FROM wh.{schema}.{table}"
            if academy is not None and "academy_code" in columns:
                source += f" WHERE academy_code = '{academy}'"
            source += ")"
            where = ""
            if latest_session and "session" in columns:
                where = f"WHERE session = (SELECT max(session) FROM {source})"
            con.execute(f"CREATE VIEW {schema}.{table} AS SELECT * FROM {source} {where}")
        cur = con.execute(sql)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()


def latest_session_scope(dashboard: dict) -> set[str]:
    """UUIDs of the charts a default-to-first-value Session filter applies to."""
    ids = {
        n["meta"]["chartId"]: str(n["meta"]["uuid"])
        for n in dashboard["position"].values()
        if isinstance(n, dict) and n.get("type") == "CHART"
    }
    for nf in dashboard["metadata"].get("native_filter_configuration", []):
        columns = [t.get("column", {}).get("name") for t in nf.get("targets", [])]
        if columns == ["session"] and nf["controlValues"].get("defaultToFirstItem"):
            excluded = set(nf.get("scope", {}).get("excluded", []))
            return {uuid for chart_id, uuid in ids.items() if chart_id not in excluded}
    return set()


def chart_payload(api: Api, chart_uuid: str, extra_filters: list[dict] | None = None) -> dict:
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


def chart_data(
    api: Api,
    chart_uuid: str,
    extra_filters: list[dict] | None = None,
    as_user: Api | None = None,
) -> list[dict]:
    """The chart's rows as `as_user` (default: `api`, the admin) gets them."""
    payload = chart_payload(api, chart_uuid, extra_filters)
    chart = {"slice_name": payload.pop("_name")}
    r = (as_user or api).post("/api/v1/chart/data", payload)
    assert r.status_code == 200, f"{chart['slice_name']}: {r.status_code} {r.text[:800]}"
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
    assert exp_i, f"{label}: the mart gives no rows to compare"
    for key, exp_row in exp_i.items():
        for col, value in exp_row.items():
            if col in keys:
                continue
            assert col in got_i[key], f"{label}: no column {col} in {sorted(got_i[key])}"
            assert same_number(got_i[key][col], value), (
                f"{label} {key} {col}: Superset {got_i[key][col]!r} != mart {value!r}"
            )


# ---- API --------------------------------------------------------------------------------
def test_dashboards_and_charts_are_listed(api: Api):
    dashboards = api.get("/api/v1/dashboard/", q="(page_size:100)")["result"]
    by_title = {d["dashboard_title"]: d for d in dashboards}
    for dash in BUNDLE.dashboards.values():
        assert dash["dashboard_title"] in by_title
        placed = {
            n["meta"]["sliceName"]
            for n in dash["position"].values()
            if isinstance(n, dict) and n.get("type") == "CHART"
        }
        charts = api.get(f"/api/v1/dashboard/{by_title[dash['dashboard_title']]['id']}/charts")
        assert {c["slice_name"] for c in charts["result"]} == placed

    charts = api.get("/api/v1/chart/", q="(page_size:100)")["result"]
    assert {c["uuid"] for c in charts} == set(CHARTS)


@pytest.mark.parametrize(
    "chart_uuid", sorted(CHARTS), ids=[CHARTS[u]["slice_name"] for u in sorted(CHARTS)]
)
def test_chart_data_matches_the_mart(api: Api, superset_warehouse: Path, chart_uuid: str):
    spec = EXPECTED[chart_uuid]
    got = chart_data(api, chart_uuid)
    expected = warehouse_rows(superset_warehouse, spec["sql"])
    assert_rows_match(got, expected, spec["keys"], CHARTS[chart_uuid]["slice_name"])


def test_filtered_rates_are_recomputed_from_counts(api: Api, superset_warehouse: Path):
    """What a native filter does (session × voie d'accès): the rate is SUM/SUM on the subset."""
    session, route = warehouse_rows(
        superset_warehouse,
        """SELECT session, access_route FROM marts.pass_rates
           GROUP BY ALL ORDER BY SUM(present) DESC, session, access_route LIMIT 1""",
    )[0].values()
    filters = [
        {"col": "session", "op": "IN", "val": [session]},
        {"col": "access_route", "op": "IN", "val": [route]},
    ]
    by_academy = "fd4ec6b0-590b-50e0-8757-2a865629b44d"
    got = chart_data(api, by_academy, filters)
    expected = warehouse_rows(
        superset_warehouse,
        """SELECT academy_name,
                  CAST(SUM(admitted) AS DOUBLE) / NULLIF(SUM(present), 0) AS taux_reussite
           FROM marts.pass_rates WHERE session = ? AND access_route = ?
           GROUP BY academy_name""",
        [session, route],
    )
    assert_rows_match(got, expected, ["academy_name"], f"par académie, {session}/{route}")


def test_database_is_read_only(api: Api, superset_server: SupersetServer):
    dbs = api.get("/api/v1/database/", q="(page_size:100)")["result"]
    assert len(dbs) == 1
    db = dbs[0]
    assert db["allow_dml"] is False
    assert db["expose_in_sqllab"] is False
    assert db["allow_ctas"] is False and db["allow_cvas"] is False
    assert db["allow_file_upload"] is False
    extra = json.loads(db["extra"])
    assert extra["engine_params"]["connect_args"]["read_only"] is True
    connection = api.get(f"/api/v1/database/{db['id']}/connection")["result"]
    assert connection["sqlalchemy_uri"] == f"duckdb:///{superset_server.warehouse.resolve()}"


def test_writes_and_file_access_are_refused(api: Api, superset_warehouse: Path):
    db_id = api.get("/api/v1/database/")["result"][0]["id"]
    before = warehouse_rows(superset_warehouse, "SELECT count(*) AS n FROM marts.pass_rates")

    def run(sql: str):
        return api.post(
            "/api/v1/sqllab/execute/",
            {
                "database_id": db_id,
                "sql": sql,
                "runAsync": False,
                "schema": "marts",
                "tab": "test",
                "client_id": f"t{time.monotonic_ns() % 10**9}",
            },
        )

    ok = run("SELECT count(*) AS n FROM marts.pass_rates")
    assert ok.status_code == 200, ok.text[:500]
    assert ok.json()["data"] == before
    for sql in (
        "DELETE FROM marts.pass_rates",
        "CREATE TABLE marts.intrus AS SELECT 1 AS x",
    ):
        r = run(sql)
        assert r.status_code >= 400, f"{sql}: {r.status_code}"
        assert "DML_NOT_ALLOWED" in r.text, r.text[:500]
    r = run("SELECT * FROM read_csv('/etc/passwd')")
    assert r.status_code >= 400 and "disabled by configuration" in r.text, r.text[:500]
    assert (
        warehouse_rows(superset_warehouse, "SELECT count(*) AS n FROM marts.pass_rates") == before
    )


# ---- access: roles, row-level security, analysts (dashboards/security.yaml) ----------------
DATASETS_BY_UUID = {str(d["uuid"]): d for d in BUNDLE.datasets.values()}
SQLLAB_VIEWS = {"SQLLab", "SQL Lab", "SQL Editor", "SavedQuery", "Saved Queries", "Query",
                "Query Search", "TabStateView", "TableSchemaView", "SqlLabPermalinkRestApi"}  # fmt: skip


def _role_ids(api: Api) -> dict[str, int]:
    return {r["name"]: r["id"] for r in api.get("/api/v1/security/roles/", q="(page_size:100)")["result"]}  # fmt: skip


def test_access_is_applied_as_declared(api: Api, access_plan):
    ids = _role_ids(api)
    assert {r.name for r in access_plan.roles} <= set(ids)
    assert len([r for r in access_plan.roles if r.academy]) == 36  # the seed's académies
    rules = {
        r["name"]: r for r in api.get("/api/v1/rowlevelsecurity/", q="(page_size:100)")["result"]
    }
    with_academy = {
        d["table_name"]
        for d in BUNDLE.datasets.values()
        if any(c["column_name"] == "academy_code" for c in d["columns"])
    }
    for spec in access_plan.roles:
        perms = api.get(f"/api/v1/security/roles/{ids[spec.name]}/permissions/")["result"]
        granted = {
            p["view_menu_name"].split("].[")[1].split("](")[0]
            for p in perms
            if p["permission_name"] == "datasource_access"
        }
        assert granted == {DATASETS_BY_UUID[u]["table_name"] for u in spec.dataset_uuids}
        sqllab = [
            p
            for p in perms
            if p["view_menu_name"] in SQLLAB_VIEWS or "sqllab" in p["permission_name"].lower()
        ]
        assert not sqllab, f"{spec.name}: SQL Lab permissions {sqllab}"
        assert not [p for p in perms if p["permission_name"] in ("all_datasource_access",
                    "all_database_access", "database_access", "schema_access")]  # fmt: skip
        if spec.academy:
            rule = rules[spec.name]
            assert rule["clause"] == f"academy_code = '{spec.academy.code}'"
            assert rule["filter_type"] == "Regular" and rule["group_key"] == "academy_code"
            assert [r["name"] for r in rule["roles"]] == [spec.name]
            assert {t["table_name"] for t in rule["tables"]} == with_academy
            assert not {t["schema"] for t in rule["tables"]} - {"marts", "audit"}
            assert not {DATASETS_BY_UUID[u]["schema"] for u in spec.dataset_uuids} - {"marts"}
        else:
            assert spec.name not in rules
    assert len(rules) == 36


@pytest.mark.parametrize("code", ["10", "24", "70"])
def test_rectorat_sees_only_its_academy(
    api: Api, rectorat_apis: dict, access_plan, superset_warehouse: Path, code: str
):
    analyst = rectorat_apis[code]
    role = access_plan.academy_role(code)
    readable = set(role.dataset_uuids)
    # every chart on a dataset of the role: the mart restricted to the académie
    checked = 0
    for uuid, chart in CHARTS.items():
        if str(chart["dataset_uuid"]) not in readable:
            continue
        spec = EXPECTED[uuid]
        expected = scoped_rows(superset_warehouse, spec["sql"], academy=code)
        got = chart_data(api, uuid, as_user=analyst)
        assert_rows_match(got, expected, spec["keys"], f"{chart['slice_name']} ({role.name})")
        checked += 1
    assert checked >= 12
    # every readable dataset: only the académie's rows, whatever the query asks
    datasets = {d["table_name"]: d["id"] for d in analyst.get("/api/v1/dataset/")["result"]}
    assert set(datasets) == {DATASETS_BY_UUID[u]["table_name"] for u in readable}
    for table, ds_id in datasets.items():
        for where in ("", f"academy_code <> '{code}' OR 1 = 1"):
            r = analyst.post(
                "/api/v1/chart/data",
                {
                    "datasource": {"id": ds_id, "type": "table"},
                    "force": True,
                    "queries": [{
                        "columns": ["academy_code"],
                        "metrics": [{"expressionType": "SQL", "sqlExpression": "COUNT(*)", "label": "n"}],
                        "filters": [], "extras": {"where": where, "having": ""},
                        "row_limit": 1000, "orderby": [],
                    }],
                    "result_format": "json",
                    "result_type": "full",
                },
            )  # fmt: skip
            assert r.status_code == 200, r.text[:500]
            rows = r.json()["result"][0]["data"]
            assert {row["academy_code"] for row in rows} == {code}, (table, where, rows)
            total = warehouse_rows(
                superset_warehouse,
                f"SELECT count(*) AS n FROM marts.{table} WHERE academy_code = ?",
                [code],
            )[0]["n"]
            assert rows[0]["n"] == total, (table, where)


def test_rectorat_analyst_has_no_sql_lab_and_no_audit(api: Api, rectorat_apis: dict, access_plan):
    analyst = rectorat_apis["10"]
    titles = {d["dashboard_title"] for d in analyst.get("/api/v1/dashboard/")["result"]}
    assert titles == {"Taux de réussite", "Capitalisation des blocs"}
    assert analyst.s.get(f"{analyst.base}/api/v1/dashboard/qualite-des-donnees").status_code in (403, 404)  # fmt: skip

    admin_datasets = {
        d["table_name"]: d for d in api.get("/api/v1/dataset/", q="(page_size:100)")["result"]
    }
    for table in ("file_manifest", "quarantine", "dq_results", "fct_candidate_session"):
        ds_id = admin_datasets[table]["id"]
        assert analyst.s.get(f"{analyst.base}/api/v1/dataset/{ds_id}").status_code in (403, 404)
    # every chart on a dataset the role does not hold (the quality dashboard's), as the UI asks
    readable = set(access_plan.academy_role("10").dataset_uuids)
    refused = 0
    for uuid, chart in CHARTS.items():
        if str(chart["dataset_uuid"]) in readable:
            continue
        payload = chart_payload(api, uuid)
        payload.pop("_name")
        r = analyst.post("/api/v1/chart/data", payload)
        assert r.status_code == 403, f"{chart['slice_name']}: {r.status_code} {r.text[:300]}"
        assert "DATASOURCE_SECURITY_ACCESS_ERROR" in r.text
        refused += 1
    assert refused == 8

    # no SQL Lab: neither its API nor running a query
    db_id = api.get("/api/v1/database/")["result"][0]["id"]
    assert analyst.s.get(f"{analyst.base}/api/v1/sqllab/").status_code in (401, 403)
    r = analyst.post(
        "/api/v1/sqllab/execute/",
        {"database_id": db_id, "sql": "SELECT * FROM audit.quarantine", "runAsync": False},
    )
    assert r.status_code in (401, 403), f"analyst reached SQL Lab: {r.status_code} {r.text[:300]}"
    # nor through custom SQL in a chart on a readable dataset (ad-hoc subqueries refused)
    pass_rates = admin_datasets["pass_rates"]["id"]
    for metric, where in (
        ("(SELECT count(*) FROM audit.quarantine)", ""),
        ("COUNT(*)", "academy_code IN (SELECT academy_code FROM audit.file_manifest)"),
    ):
        r = analyst.post(
            "/api/v1/chart/data",
            {
                "datasource": {"id": pass_rates, "type": "table"},
                "force": True,
                "queries": [{
                    "columns": [],
                    "metrics": [{"expressionType": "SQL", "sqlExpression": metric, "label": "n"}],
                    "extras": {"where": where, "having": ""}, "row_limit": 10,
                }],
                "result_format": "json",
                "result_type": "full",
            },
        )  # fmt: skip
        assert r.status_code in (400, 403), f"{metric} / {where}: {r.status_code} {r.text[:300]}"
        assert "sous-requ" in r.text or "subquer" in r.text, r.text[:300]


def test_ministry_sees_everything(api: Api, ministry_api: Api, superset_warehouse: Path):
    titles = {d["dashboard_title"] for d in ministry_api.get("/api/v1/dashboard/")["result"]}
    assert titles == {d["dashboard_title"] for d in BUNDLE.dashboards.values()}
    quality = next(d for d in BUNDLE.dashboards.values() if d["slug"] == "qualite-des-donnees")
    for uuid in bundle_mod.chart_uuids_in_position(quality["position"]):
        spec = EXPECTED[str(uuid)]
        expected = warehouse_rows(superset_warehouse, spec["sql"])
        got = chart_data(api, str(uuid), as_user=ministry_api)
        assert_rows_match(got, expected, spec["keys"], f"{CHARTS[str(uuid)]['slice_name']} (Ministère)")  # fmt: skip
    by_academy = "893502c0-f36b-50cc-9789-1cc81df0b3e2"  # Résultats par académie: all of them
    expected = warehouse_rows(superset_warehouse, EXPECTED[by_academy]["sql"])
    assert len(expected) >= 3
    assert_rows_match(chart_data(api, by_academy, as_user=ministry_api), expected,
                      EXPECTED[by_academy]["keys"], "par académie (Ministère)")  # fmt: skip
    db_id = api.get("/api/v1/database/")["result"][0]["id"]
    r = ministry_api.post(
        "/api/v1/sqllab/execute/",
        {"database_id": db_id, "sql": "SELECT 1", "runAsync": False},
    )
    assert r.status_code in (401, 403), "no SQL Lab for the ministry role either"


def test_analyst_command_is_idempotent_and_refuses_unknown_academies(
    api: Api, superset_server: SupersetServer, access_plan
):
    username, password = superset_server.analysts["10"]

    def user_roles() -> list[list[str]]:
        q = f"(filters:!((col:username,opr:eq,value:{username})))"
        return [[r["name"] for r in u["roles"]] for u in api.get("/api/v1/security/users/", q=q)["result"]]  # fmt: skip

    assert user_roles() == [[access_plan.academy_role("10").name]]
    again = superset_server.run_app(
        "analyst", "--academy", "10", "--username", username,
        extra_env={"SUPERSET_ANALYST_PASSWORD": password},
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr[-3000:]
    assert f"analyst '{username}' updated" in again.stdout
    assert user_roles() == [[access_plan.academy_role("10").name]]
    Api(superset_server, username, password)  # still logs in

    for bad in ("99", "XX"):
        refused = superset_server.run_app("analyst", "--academy", bad, "--username", "intrus")
        assert refused.returncode != 0
        assert "unknown académie" in refused.stderr + refused.stdout
    q = "(filters:!((col:username,opr:eq,value:intrus)))"
    assert api.get("/api/v1/security/users/", q=q)["count"] == 0


def test_reimport_is_idempotent(api: Api, superset_server: SupersetServer):
    def inventory():
        objects = {
            kind: sorted(
                (str(o.get("uuid")), o["id"])
                for o in api.get(f"/api/v1/{kind}/", q="(page_size:100)")["result"]
            )
            for kind in ("database", "dataset", "chart", "dashboard")
        }
        ids = _role_ids(api)
        objects["roles"] = sorted(ids.items())
        objects["permissions"] = {
            name: sorted(
                p["id"] for p in api.get(f"/api/v1/security/roles/{rid}/permissions/")["result"]
            )
            for name, rid in ids.items()
            if name in ("Ministère", "Rectorat 10 Lyon", "Rectorat 70 Normandie")
        }
        objects["rls"] = sorted(
            (r["id"], r["name"], r["clause"], tuple(sorted(t["id"] for t in r["tables"])),
             tuple(x["id"] for x in r["roles"]))
            for r in api.get("/api/v1/rowlevelsecurity/", q="(page_size:100)")["result"]
        )  # fmt: skip
        return objects

    before = inventory()
    proc = superset_server.run_app("build")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    assert inventory() == before
    assert len(before["chart"]) == len(CHARTS)
    assert len(before["rls"]) == 36


# ---- browser ----------------------------------------------------------------------------
def french_number(value, d3format: str) -> str:
    """How the dashboard shows a big number (D3_FORMAT: ',' decimal, narrow space thousands)."""
    if d3format.endswith("%"):
        decimals = int(re.search(r"\.(\d+)", d3format).group(1))
        return f"{value * 100:.{decimals}f}".replace(".", ",") + "%"
    return f"{int(value):,}".replace(",", " ")


def normalise(text: str) -> str:
    return re.sub(r"[\s\u202f\u00a0]+", " ", text).strip()


def browser_login(page, server: SupersetServer, username: str = "", password: str = "") -> None:
    # The login POST can race the page's first event-log POST (both set the session cookie):
    # try again, from a settled page, if the form comes back.
    for _ in range(3):
        page.goto(f"{server.url}/login/")
        page.wait_for_load_state("networkidle")
        page.fill("#username, input[name=username]", username or server.username)
        page.fill("#password, input[name=password]", password or server.password)
        page.click("[data-test=login-button], button[type=submit]")
        try:
            page.wait_for_url(lambda u: "/login" not in u, timeout=15000)
            return
        except Exception:  # noqa: BLE001 - retried
            continue
    raise AssertionError("could not log in through the form")


RENDERED_JS = """(n) => {
  const charts = [...document.querySelectorAll('[data-test=chart-grid-component]')];
  if (charts.length < n || document.querySelector('[data-test=loading-indicator]')) return false;
  return charts.every(c => c.querySelector('[role=alert], .ant-alert-error') ||
    c.querySelector('[data-test=chart-container] canvas, [data-test=chart-container] tbody tr,'
                    + ' [data-test=chart-container] .header-line'));
}"""


def check_rendered_chart(
    page, chart: dict, warehouse: Path, latest_session: bool, academy: str | None = None
) -> None:
    name = chart["slice_name"]
    holder = page.locator(f'[data-test=chart-grid-component][data-test-chart-name="{name}"]')
    assert holder.count() == 1, name
    if chart["viz_type"] == "big_number_total":
        # the figure shown is the mart's, formatted the French way
        metric = DATASET_METRICS[str(chart["dataset_uuid"])][chart["params"]["metric"]]
        sql = EXPECTED[str(chart["uuid"])]["sql"]
        row = scoped_rows(warehouse, sql, latest_session, academy)[0]
        (value,) = row.values()
        shown = normalise(holder.locator(".header-line").inner_text())
        assert shown == french_number(value, metric["d3format"]), name
    elif chart["viz_type"] == "table":
        assert holder.locator("tbody tr").count() >= 1, name
    else:
        assert holder.locator("canvas").count() >= 1, name


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def render_dashboard(
    page, server: SupersetServer, dash: dict, warehouse: Path, academy: str | None = None
) -> None:
    """Open the dashboard, wait for every chart, fail on any error panel, check what it shows."""
    charts = [
        n["meta"]
        for n in dash["position"].values()
        if isinstance(n, dict) and n.get("type") == "CHART"
    ]
    page.goto(f"{server.url}/superset/dashboard/{dash['slug']}/")
    page.wait_for_function(RENDERED_JS, arg=len(charts), timeout=90000)
    page.wait_for_load_state("networkidle")

    alerts = page.locator("[role=alert], .ant-alert-error")
    texts = [normalise(alerts.nth(i).inner_text()) for i in range(alerts.count())]
    assert not texts, f"{dash['dashboard_title']}: error panels {texts}"
    assert page.get_by_text(dash["dashboard_title"]).first.is_visible()

    in_scope = latest_session_scope(dash)
    for meta in charts:
        uuid = str(meta["uuid"])
        check_rendered_chart(page, CHARTS[uuid], warehouse, uuid in in_scope, academy)


def new_page(chromium, server_errors: list[str]):
    page = chromium.new_context(viewport={"width": 1600, "height": 1200}).new_page()
    page.on(
        "response",
        lambda r: server_errors.append(f"{r.status} {r.url}") if r.status >= 500 else None,
    )
    return page


@pytest.fixture(scope="module")
def admin_page(chromium, superset_server: SupersetServer):
    """One admin browser session (logged in through the form) for every dashboard."""
    errors: list[str] = []
    page = new_page(chromium, errors)
    browser_login(page, superset_server)
    yield page, errors
    page.context.close()


@pytest.mark.parametrize("slug", [d["slug"] for d in BUNDLE.dashboards.values()])
def test_dashboard_renders_in_a_browser_as_admin(
    admin_page, superset_server: SupersetServer, superset_warehouse: Path, slug: str
):
    page, server_errors = admin_page
    dash = next(d for d in BUNDLE.dashboards.values() if d["slug"] == slug)
    render_dashboard(page, superset_server, dash, superset_warehouse)
    page.screenshot(path=str(ARTIFACTS / f"{slug}.png"), full_page=True)
    assert not server_errors, server_errors


def test_results_dashboard_renders_for_a_rectorat_analyst(
    chromium, superset_server: SupersetServer, superset_warehouse: Path, rectorat_users: dict
):
    """Taux de réussite as Rectorat 10: no error panel, the académie's own figures only."""
    code = "10"
    errors: list[str] = []
    page = new_page(chromium, errors)
    browser_login(page, superset_server, *rectorat_users[code])
    dash = next(d for d in BUNDLE.dashboards.values() if d["slug"] == "taux-de-reussite")
    render_dashboard(page, superset_server, dash, superset_warehouse, academy=code)
    page.screenshot(path=str(ARTIFACTS / f"taux-de-reussite-rectorat-{code}.png"), full_page=True)
    table = page.locator('[data-test=chart-grid-component][data-test-chart-name="Résultats par académie"] tbody')  # fmt: skip
    names = warehouse_rows(
        superset_warehouse, "SELECT DISTINCT academy_code, academy_name FROM marts.pass_rates"
    )
    text = normalise(table.inner_text())
    for row in names:
        assert (row["academy_name"] in text) == (row["academy_code"] == code), (row, text)
    assert not errors, errors
    page.context.close()


# ---- last: a nightly re-publication while Superset serves (keep this test at the end) --------
def _root_conftest():
    """tests/conftest.py (pipeline_env, run_exams, SAMPLE_DIR), loaded under its own name."""
    spec = importlib.util.spec_from_file_location(
        "exams_tests_root_conftest", Path(__file__).resolve().parents[1] / "conftest.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAX_REQUESTS = 40  # over the whole run, loopback only
REQUEST_INTERVAL_S = 0.75  # 40 requests cover a run of ~35-40 s


def test_dashboards_keep_answering_during_a_republication(
    api: Api, superset_server: SupersetServer, superset_warehouse: Path
):
    """Data-quality issue: the nightly run publishes a new file and os.replace()s it onto the
    served path; Superset (a new read-only DuckDB connection per query) must never fail."""
    root = _root_conftest()
    warehouse = superset_server.warehouse
    assert warehouse == superset_warehouse
    env = root.pipeline_env(root.SAMPLE_DIR, warehouse, warehouse.parent.parent / "extracts")
    payloads = [chart_payload(api, uuid) for uuid in sorted(CHARTS)]
    for payload in payloads:
        payload.pop("_name")
    inode_before = warehouse.stat().st_ino

    results: list[tuple[float, int, str]] = []  # (time, status, error)
    done = threading.Event()

    def query_loop() -> None:
        i = 0
        while not done.is_set() and len(results) < MAX_REQUESTS:
            payload = payloads[i % len(payloads)]
            i += 1
            t = time.monotonic()
            try:
                r = api.s.post(f"{api.base}/api/v1/chart/data", json=payload, timeout=60)
                error = "" if r.status_code == 200 else r.text[:300]
                if r.status_code == 200:
                    error = "; ".join(
                        str(q.get("error")) for q in r.json()["result"] if q.get("error")
                    )
                results.append((t, r.status_code, error))
            except requests.RequestException as exc:
                results.append((t, 0, repr(exc)))
            done.wait(REQUEST_INTERVAL_S)

    thread = threading.Thread(target=query_loop, daemon=True)
    t0 = time.monotonic()
    thread.start()
    try:
        proc = root.run_exams("run", "--force", env=env, check=False)
    finally:
        t1 = time.monotonic()
        done.set()
        thread.join(timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert warehouse.stat().st_ino != inode_before, "the run did not publish a new file"

    failed = [r for r in results if r[1] != 200 or r[2]]
    during = [r for r in results if t0 <= r[0] <= t1]
    print(
        f"\n[superset] {len(results)} chart/data requests during a {t1 - t0:.0f} s re-publication"
    )
    assert not failed, f"{len(failed)}/{len(results)} requests failed: {failed[:3]}"
    assert len(during) >= min(MAX_REQUESTS, 10), len(during)

    # and the dashboards show the published file afterwards
    national = "98a9dc88-e6c3-536f-9126-df3de36abc5a"
    expected = warehouse_rows(warehouse, EXPECTED[national]["sql"])
    assert_rows_match(chart_data(api, national), expected, [], "national (after publication)")
    runs = warehouse_rows(warehouse, "SELECT count(DISTINCT run_id) AS n FROM audit.dq_results")
    controls = "99d40978-f88a-56f6-b604-46b4536eee0f"
    got_runs = {row["run_id"] for row in chart_data(api, controls)}
    assert len(got_runs) == runs[0]["n"] >= 2, "the new run's checks are on the dashboard"
