"""End to end: a real Superset on the published warehouse, through its REST API.

Every figure is checked against a direct DuckDB query on the warehouse (tests/superset/
superset_expectations.py); nothing is hard-coded. The browser tests are in
test_dashboards_browser.py, what a rectorat analyst sees in test_dashboards_rectorat.py.
"""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from pathlib import Path

import pytest
import requests
from superset_expectations import (
    EXPECTED,
    assert_rows_match,
    chart_data,
    chart_payload,
    scoped_rows,
    warehouse_rows,
)
from superset_harness import Api, SupersetServer

from exams.superset_app import BUNDLE_DIR
from exams.superset_app import bundle as bundle_mod

pytestmark = pytest.mark.slow

BUNDLE = bundle_mod.load(BUNDLE_DIR)
CHARTS = {str(c["uuid"]): c for c in BUNDLE.charts.values()}


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


def _charts_on(slugs: set[str]) -> set[str]:
    return {
        str(u)
        for d in BUNDLE.dashboards.values()
        if d["slug"] in slugs
        for u in bundle_mod.chart_uuids_in_position(d["position"])
    }


ANALYST_DASHBOARDS = {"taux-de-reussite", "capitalisation-des-blocs"}


@pytest.mark.parametrize("code", ["10", "24", "70"])
def test_rectorat_sees_only_its_academy(
    api: Api, rectorat_apis: dict, access_plan, superset_warehouse: Path, code: str
):
    analyst = rectorat_apis[code]
    role = access_plan.academy_role(code)
    readable = set(role.dataset_uuids)
    # every chart on a dataset of the role: the warehouse restricted to the académie (the
    # national benchmark whole)
    checked = set()
    for uuid, chart in CHARTS.items():
        if str(chart["dataset_uuid"]) not in readable:
            continue
        spec = EXPECTED[uuid]
        expected = scoped_rows(superset_warehouse, spec["sql"], academy=code)
        got = chart_data(api, uuid, as_user=analyst)
        assert_rows_match(got, expected, spec["keys"], f"{chart['slice_name']} ({role.name})")
        checked.add(uuid)
    assert checked == _charts_on(ANALYST_DASHBOARDS), "every chart of the analysts' dashboards"
    # every readable dataset: only the académie's rows, whatever the query asks; a dataset
    # without academy_code (the national benchmark) whole
    datasets = {d["table_name"]: d["id"] for d in analyst.get("/api/v1/dataset/")["result"]}
    assert set(datasets) == {DATASETS_BY_UUID[u]["table_name"] for u in readable}
    by_table = {d["table_name"]: d for d in BUNDLE.datasets.values()}
    for table, ds_id in datasets.items():
        ds = by_table[table]
        per_academy = any(c["column_name"] == "academy_code" for c in ds["columns"])
        source = f"({ds['sql']})" if ds.get("sql") else f"{ds['schema']}.{table}"
        total = scoped_rows(
            superset_warehouse, f"SELECT count(*) AS n FROM {source} AS t", academy=code
        )[0]["n"]
        assert total > 0, table
        for where in ("", f"academy_code <> '{code}' OR 1 = 1" if per_academy else "1 = 1"):
            r = analyst.post(
                "/api/v1/chart/data",
                {
                    "datasource": {"id": ds_id, "type": "table"},
                    "force": True,
                    "queries": [{
                        "columns": ["academy_code"] if per_academy else [],
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
            if per_academy:
                assert {row["academy_code"] for row in rows} == {code}, (table, where, rows)
            assert sum(row["n"] for row in rows) == total, (table, where)
    assert any(
        not any(c["column_name"] == "academy_code" for c in by_table[t]["columns"])
        for t in datasets
    ), "the national benchmark (no académie column) is readable by every analyst"


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
    refused = set()
    for uuid, chart in CHARTS.items():
        if str(chart["dataset_uuid"]) in readable:
            continue
        payload = chart_payload(api, uuid)
        payload.pop("_name")
        r = analyst.post("/api/v1/chart/data", payload)
        assert r.status_code == 403, f"{chart['slice_name']}: {r.status_code} {r.text[:300]}"
        assert "DATASOURCE_SECURITY_ACCESS_ERROR" in r.text
        refused.add(uuid)
    assert refused == _charts_on({"qualite-des-donnees"}), "every chart of Qualité des données"

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
