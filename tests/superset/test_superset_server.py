"""End to end: a real Superset on the published warehouse, through its REST API and a browser.

Every figure is checked against a direct DuckDB query on the mart (tests/superset/
superset_expectations.py); nothing is hard-coded.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import time
from pathlib import Path

import duckdb
import pytest
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


def latest_session_rows(warehouse: Path, sql: str) -> list[dict]:
    """`sql` run on the marts restricted to their latest session (a Session filter whose
    default is its first value, values sorted descending)."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{warehouse}' AS wh (READ_ONLY)")
        con.execute("CREATE SCHEMA marts")
        tables = con.execute(
            """SELECT DISTINCT table_name FROM duckdb_columns()
               WHERE database_name = 'wh' AND schema_name = 'marts' AND column_name = 'session'"""
        ).fetchall()
        for (table,) in tables:
            con.execute(
                f"""CREATE VIEW marts.{table} AS SELECT * FROM wh.marts.{table}
                    WHERE session = (SELECT max(session) FROM wh.marts.{table})"""
            )
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


def chart_data(api: Api, chart_uuid: str, extra_filters: list[dict] | None = None) -> list[dict]:
    chart = api.get(f"/api/v1/chart/{chart_uuid}")["result"]
    params = json.loads(chart["params"])
    query = query_from_params(params)
    query["filters"] += extra_filters or []
    payload = {
        "datasource": {"id": chart["datasource_id"], "type": chart["datasource_type"]},
        "force": True,
        "queries": [query],
        "result_format": "json",
        "result_type": "full",
    }
    r = api.post("/api/v1/chart/data", payload)
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


def test_analyst_role_reads_the_marts_and_nothing_else(
    api: Api, superset_server: SupersetServer, superset_warehouse: Path
):
    password = secrets.token_urlsafe(16)
    roles = api.get("/api/v1/security/roles/", q="(page_size:100)")["result"]
    role_id = next(r["id"] for r in roles if r["name"] == "Analyste")
    created = api.post(
        "/api/v1/security/users/",
        {
            "first_name": "Ana",
            "last_name": "Lyste",
            "username": "analyste",
            "email": "analyste@exams.invalid",
            "password": password,
            "active": True,
            "roles": [role_id],
        },
    )
    assert created.status_code == 201, created.text[:500]
    analyst = Api(superset_server, "analyste", password)

    titles = {d["dashboard_title"] for d in analyst.get("/api/v1/dashboard/")["result"]}
    assert titles == {d["dashboard_title"] for d in BUNDLE.dashboards.values()}
    tables = {d["table_name"] for d in analyst.get("/api/v1/dataset/")["result"]}
    assert tables == {d["table_name"] for d in BUNDLE.datasets.values()}
    national = "98a9dc88-e6c3-536f-9126-df3de36abc5a"
    expected = warehouse_rows(superset_warehouse, EXPECTED[national]["sql"])
    assert_rows_match(chart_data(analyst, national), expected, [], "national (analyste)")

    db_id = api.get("/api/v1/database/")["result"][0]["id"]
    r = analyst.post(
        "/api/v1/sqllab/execute/",
        {"database_id": db_id, "sql": "SELECT * FROM audit.quarantine", "runAsync": False},
    )
    assert r.status_code in (401, 403), f"analyst reached SQL Lab: {r.status_code} {r.text[:300]}"


def test_reimport_is_idempotent(api: Api, superset_server: SupersetServer):
    def inventory():
        return {
            kind: sorted(
                (str(o.get("uuid")), o["id"])
                for o in api.get(f"/api/v1/{kind}/", q="(page_size:100)")["result"]
            )
            for kind in ("database", "dataset", "chart", "dashboard")
        }

    before = inventory()
    proc = superset_server.run_app("build")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    assert inventory() == before
    assert len(before["chart"]) == len(CHARTS)


# ---- browser ----------------------------------------------------------------------------
def french_number(value, d3format: str) -> str:
    """How the dashboard shows a big number (D3_FORMAT: ',' decimal, narrow space thousands)."""
    if d3format.endswith("%"):
        decimals = int(re.search(r"\.(\d+)", d3format).group(1))
        return f"{value * 100:.{decimals}f}".replace(".", ",") + "%"
    return f"{int(value):,}".replace(",", " ")


def normalise(text: str) -> str:
    return re.sub(r"[\s\u202f\u00a0]+", " ", text).strip()


def browser_login(page, server: SupersetServer) -> None:
    # The login POST can race the page's first event-log POST (both set the session cookie):
    # try again, from a settled page, if the form comes back.
    for _ in range(3):
        page.goto(f"{server.url}/login/")
        page.wait_for_load_state("networkidle")
        page.fill("#username, input[name=username]", server.username)
        page.fill("#password, input[name=password]", server.password)
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


def check_rendered_chart(page, chart: dict, warehouse: Path, latest_session: bool) -> None:
    name = chart["slice_name"]
    holder = page.locator(f'[data-test=chart-grid-component][data-test-chart-name="{name}"]')
    assert holder.count() == 1, name
    if chart["viz_type"] == "big_number_total":
        # the figure shown is the mart's, formatted the French way
        metric = DATASET_METRICS[str(chart["dataset_uuid"])][chart["params"]["metric"]]
        sql = EXPECTED[str(chart["uuid"])]["sql"]
        rows = latest_session_rows if latest_session else warehouse_rows
        row = rows(warehouse, sql)[0]
        (value,) = row.values()
        shown = normalise(holder.locator(".header-line").inner_text())
        assert shown == french_number(value, metric["d3format"]), name
    elif chart["viz_type"] == "table":
        assert holder.locator("tbody tr").count() >= 1, name
    else:
        assert holder.locator("canvas").count() >= 1, name


def test_dashboards_render_in_a_browser(superset_server: SupersetServer, superset_warehouse: Path):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1600, "height": 1200}).new_page()
            server_errors: list[str] = []
            page.on(
                "response",
                lambda r: server_errors.append(f"{r.status} {r.url}") if r.status >= 500 else None,
            )
            browser_login(page, superset_server)
            for dash in BUNDLE.dashboards.values():
                charts = [
                    n["meta"]
                    for n in dash["position"].values()
                    if isinstance(n, dict) and n.get("type") == "CHART"
                ]
                page.goto(f"{superset_server.url}/superset/dashboard/{dash['slug']}/")
                page.wait_for_function(RENDERED_JS, arg=len(charts), timeout=90000)
                page.wait_for_load_state("networkidle")

                alerts = page.locator("[role=alert], .ant-alert-error")
                texts = [normalise(alerts.nth(i).inner_text()) for i in range(alerts.count())]
                assert not texts, f"{dash['dashboard_title']}: error panels {texts}"
                assert page.get_by_text(dash["dashboard_title"]).first.is_visible()

                in_scope = latest_session_scope(dash)
                for meta in charts:
                    uuid = str(meta["uuid"])
                    check_rendered_chart(page, CHARTS[uuid], superset_warehouse, uuid in in_scope)

                page.screenshot(path=str(ARTIFACTS / f"{dash['slug']}.png"), full_page=True)
            assert not server_errors, server_errors
        finally:
            browser.close()
