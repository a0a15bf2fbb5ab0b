"""Fast checks of the dashboard bundle, the Superset configuration, the home's modes and the
admin password (no Superset process: they run in the test environment)."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from superset_expectations import EXPECTED

from exams.settings import load_superset
from exams.superset_app import BUNDLE_DIR, CONFIG_FILE, access, ensure_private_home
from exams.superset_app import bundle as bundle_mod

REPO_ROOT = Path(__file__).resolve().parents[2]
SUPERSET_PY = REPO_ROOT / ".venv" / "superset" / "bin" / "python"


@pytest.fixture(scope="module")
def bundle() -> bundle_mod.Bundle:
    return bundle_mod.load(BUNDLE_DIR)


def test_bundle_is_valid(bundle):
    bundle_mod.validate(bundle)
    titles = {d["dashboard_title"] for d in bundle.dashboards.values()}
    assert titles == {"Taux de réussite", "Capitalisation des blocs", "Qualité des données"}
    tables = {(d["schema"], d["table_name"]) for d in bundle.datasets.values()}
    assert {("marts", "pass_rates"), ("marts", "block_capitalisation")} <= tables
    assert {("marts", "national_pass_rates"), ("marts", "outcome_counts")} <= tables
    assert {("marts", "establishment_results")} <= tables
    assert {("audit", "file_manifest"), ("audit", "quarantine"), ("audit", "dq_results")} <= tables
    # physical datasets on the published tables, but one virtual dataset: the académie beside
    # the nation, reading those two marts and nothing else
    virtual = {d["table_name"]: d["sql"] for d in bundle.datasets.values() if d.get("sql")}
    assert set(virtual) == {"academie_et_national"}
    read = set(re.findall(r"\b(?:FROM|JOIN)\s+([\w.]+)", virtual["academie_et_national"], re.I))
    assert read == {"marts.pass_rates", "marts.national_pass_rates"}


def _charts_by_id(dash: dict, bundle) -> dict[int, dict]:
    charts = {str(c["uuid"]): c for c in bundle.charts.values()}
    return {
        n["meta"]["chartId"]: charts[str(n["meta"]["uuid"])]
        for n in dash["position"].values()
        if isinstance(n, dict) and n.get("type") == "CHART"
    }


def test_native_filters_cover_session_academy_and_route(bundle):
    """Every dashboard filters on session, académie (by name: the same « Académie » filter
    everywhere) and access route, each filter scoped to the charts whose dataset has the
    column (elsewhere it would be silently ignored), none offering an empty value."""
    datasets = {str(d["uuid"]): d for d in bundle.datasets.values()}
    for dash in bundle.dashboards.values():
        columns = {}
        for nf in dash["metadata"]["native_filter_configuration"]:
            (target,) = nf["targets"]
            column = target["column"]["name"]
            columns[column] = nf["name"]
            excluded = set(nf["scope"]["excluded"])
            for chart_id, chart in _charts_by_id(dash, bundle).items():
                ds = datasets[str(chart["dataset_uuid"])]
                has = any(c["column_name"] == column for c in ds["columns"])
                params = chart["params"]
                by_it = column in [params.get("x_axis"), *params.get("groupby", [])]
                # in scope exactly where the column exists, unless the chart is broken down by it
                if chart_id in excluded:
                    assert not has or by_it, (dash["slug"], nf["name"], chart_id)
                else:
                    assert has, (dash["slug"], nf["name"], chart_id)
            # pre-filter: the options never hold NULL (a rejected file has no session)
            assert {(f["subject"], f["operator"]) for f in nf.get("adhoc_filters", [])} == {
                (column, "IS NOT NULL")
            }, (dash["slug"], nf["name"])
        assert columns == {
            "session": "Session",
            "academy_name": "Académie",
            "access_route": "Voie d'accès",
        }, dash["slug"]


def test_every_chart_has_an_expectation(bundle):
    assert {str(c["uuid"]) for c in bundle.charts.values()} == set(EXPECTED)


def test_rates_are_ratios_of_sums(bundle):
    """Rates must aggregate correctly: built from SUM() of counts, never an average of row rates
    nor a row rate column; their interval bounds too, with z from its one source."""
    for rel, ds in bundle.datasets.items():
        metrics = {m["metric_name"]: m for m in ds["metrics"]}
        for name, m in metrics.items():
            expr = m["expression"].upper()
            assert "AVG(" not in expr and "_RATE" not in expr, (rel, name)
            if name.startswith("taux"):
                assert "SUM(" in expr and "/" in expr, (rel, name)
                assert m["d3format"] == ".1%", (rel, name)
            if name.endswith(("__yhat_lower", "__yhat_upper")):
                assert name.rsplit("__", 1)[0] in metrics, (rel, name)
                assert bundle_mod.WILSON_Z in expr and "SQRT(" in expr, (rel, name)
            if m.get("d3format") and "%" in m["d3format"]:
                assert re.fullmatch(r"\.\d%", m["d3format"]), (rel, name)


def test_every_rate_has_its_interval_beside_it(bundle):
    """Wherever rates are compared in a table, the two bounds of its interval are next to it."""
    for rel, chart in bundle.charts.items():
        params = chart["params"]
        if chart["viz_type"] != "table":
            continue
        metrics = params["metrics"]
        for i, name in enumerate(metrics):
            if name.startswith("taux") and "__" not in name and name != "taux_ecart_decision":
                assert metrics[i + 1 : i + 3] == [f"{name}__yhat_lower", f"{name}__yhat_upper"], (
                    rel,
                    name,
                )


def test_rates_are_shown_to_one_decimal(bundle):
    """Bar labels, axes and big numbers of rates: one decimal (« 72,4 % » with D3_FORMAT);
    counts grouped by thousands."""
    metrics = {
        str(ds["uuid"]): {m["metric_name"]: m for m in ds["metrics"]}
        for ds in bundle.datasets.values()
    }
    for rel, chart in bundle.charts.items():
        params = chart["params"]
        names = [params["metric"]] if "metric" in params else params["metrics"]
        formats = {metrics[str(chart["dataset_uuid"])][n].get("d3format") for n in names}
        if "y_axis_format" in params:
            assert params["y_axis_format"] in formats, rel
        assert formats <= {".1%", ",d", "+.1f", None}, (rel, formats)


def test_no_english_nor_codes_in_what_users_read(bundle):
    """Titles, descriptions, column and metric names, markdown: French, no status or reason
    code of the seeds (the codes stay in the data; the labels are shown)."""
    from exams import reference

    banned = re.compile(
        r"(?<!\w)("
        + "|".join(
            map(re.escape, ["N/A", "NONE", *reference.file_statuses(), *reference.reasons()])
        )
        + r")(?!\w)"
    )
    texts = []
    for chart in bundle.charts.values():
        texts += [chart["slice_name"], chart.get("description") or ""]
        texts.append(chart["params"].get("subheader", ""))
    for ds in bundle.datasets.values():
        texts += [c.get("verbose_name") or "" for c in ds["columns"]]
        texts += [m.get("verbose_name") or "" for m in ds["metrics"]]
        texts += [m.get("description") or "" for m in ds["metrics"]]
    for dash in bundle.dashboards.values():
        texts.append(dash["dashboard_title"])
        texts += [nf["name"] for nf in dash["metadata"]["native_filter_configuration"]]
        texts += [
            nf.get("description", "") for nf in dash["metadata"]["native_filter_configuration"]
        ]
        texts += [
            n["meta"]["code"]
            for n in dash["position"].values()
            if isinstance(n, dict) and n.get("type") == "MARKDOWN"
        ]
    found = sorted({m for t in texts for m in banned.findall(t)})
    assert not found, found


def test_blocks_are_labelled_and_ordered(bundle):
    """Blocks and units by unit_label, BC01, BC02, BC03 first; « acquis par des non-admis »
    explained (VAE-validated units count) where the blocks are shown."""
    charts = {c["slice_name"]: c for c in bundle.charts.values()}
    by_unit = charts["Taux d'acquisition par bloc et unité"]["params"]
    assert by_unit["x_axis"] == "unit_label" and by_unit["x_axis_sort"] == "unit_label"
    # horizontal bars are drawn bottom-up: descending labels put BC01 on top
    assert by_unit["orientation"] == "horizontal" and by_unit["x_axis_sort_asc"] is False
    for name in ("Acquisition par bloc et unité", "Blocs de compétences par voie d'accès"):
        params = charts[name]["params"]
        assert params["groupby"][0] == "unit_label"
        assert params["order_desc"] is False
    blocks = next(d for d in bundle.datasets.values() if d["table_name"] == "block_capitalisation")
    order = {m["metric_name"]: m["expression"] for m in blocks["metrics"]}
    assert order["ordre_unite"] == "MIN(unit_label)"
    assert "VAE" in charts["Blocs de compétences par voie d'accès"]["description"]
    dash = next(d for d in bundle.dashboards.values() if d["slug"] == "capitalisation-des-blocs")
    (md,) = [n["meta"]["code"] for n in dash["position"].values()
             if isinstance(n, dict) and n.get("type") == "MARKDOWN"]  # fmt: skip
    assert "validées par VAE" in md and "non admis" in md


def test_definitions_explain_the_interval(bundle):
    dash = next(d for d in bundle.dashboards.values() if d["slug"] == "taux-de-reussite")
    (md,) = [n["meta"]["code"] for n in dash["position"].values()
             if isinstance(n, dict) and n.get("type") == "MARKDOWN"]  # fmt: skip
    assert "Intervalle de confiance à 95 %" in md and "Wilson" in md
    assert bundle_mod.SECRECY_THRESHOLD in md


def test_render_fills_in_the_warehouse(tmp_path):
    warehouse = tmp_path / "wh dir" / "results.duckdb"
    out = bundle_mod.render(BUNDLE_DIR, warehouse, tmp_path / "bundle.zip")
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert all(n.startswith(bundle_mod.ZIP_ROOT + "/") for n in names)
        assert f"{bundle_mod.ZIP_ROOT}/metadata.yaml" in names
        assert not [n for n in names if n.endswith("/" + bundle_mod.ACCESS_FILE)]
        dbs = [n for n in names if "/databases/" in n]
        assert len(dbs) == 1
        db = yaml.safe_load(zf.read(dbs[0]))
    assert db["sqlalchemy_uri"] == f"duckdb:///{warehouse.resolve()}"
    assert db["extra"]["engine_params"]["connect_args"]["read_only"] is True
    assert db["allow_dml"] is False and db["expose_in_sqllab"] is False


def test_render_fills_in_the_threshold_and_z_from_their_one_source(tmp_path, monkeypatch):
    """The secrecy threshold comes from exams.settings (EXAMS_SECRECY_THRESHOLD), the Wilson z
    from dbt_project.yml: the rendered bundle holds them, no placeholder left."""
    import duckdb

    monkeypatch.setenv("EXAMS_SECRECY_THRESHOLD", "7")
    project = yaml.safe_load((REPO_ROOT / "dbt_project/dbt_project.yml").read_text())
    z = float(project["vars"]["wilson_z"])
    out = bundle_mod.render(BUNDLE_DIR, tmp_path / "results.duckdb", tmp_path / "b.zip")
    with zipfile.ZipFile(out) as zf:
        texts = {n: zf.read(n).decode() for n in zf.namelist()}
    assert not [n for n, t in texts.items() if bundle_mod.PLACEHOLDER_RE.search(t)]
    etab = yaml.safe_load(
        texts[f"{bundle_mod.ZIP_ROOT}/datasets/exams_warehouse/establishment_results.yaml"]
    )
    metrics = {m["metric_name"]: m["expression"] for m in etab["metrics"]}
    assert "SUM(present) >= 7 " in metrics["taux_reussite"]
    chart = yaml.safe_load(texts[f"{bundle_mod.ZIP_ROOT}/charts/Resultats_par_etablissement.yaml"])
    assert chart["params"]["conditional_formatting"][0]["targetValue"] == 7
    assert "sous 7 présents" in chart["description"]
    # the rendered Wilson bound is the contract's formula with that z: k = 3, n = 4
    rates = yaml.safe_load(texts[f"{bundle_mod.ZIP_ROOT}/datasets/exams_warehouse/pass_rates.yaml"])
    low = next(m for m in rates["metrics"] if m["metric_name"] == "taux_reussite__yhat_lower")
    low = low["expression"]
    assert repr(z) in low
    con = duckdb.connect()
    got = con.execute(f"SELECT {low} FROM (VALUES (3, 4)) AS t(admitted, present)").fetchone()[0]
    centre, half = (3 + z * z / 2), z * (3 * 1 / 4 + z * z / 4) ** 0.5
    assert abs(got - (centre - half) / (4 + z * z)) < 1e-12


def test_validate_rejects_an_unknown_placeholder(tmp_path):
    root = _mutated_bundle(
        tmp_path,
        "charts/Candidats_admis.yaml",
        lambda d: d.update(description="${EXAMS_NOPE}"),
    )
    with pytest.raises(bundle_mod.BundleError, match="unknown placeholders"):
        bundle_mod.validate(bundle_mod.load(root))


def _mutated_bundle(tmp_path: Path, rel: str, change) -> Path:
    root = tmp_path / "bundle"
    shutil.copytree(BUNDLE_DIR, root)
    path = root / rel
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return root


@pytest.mark.parametrize(
    "rel,change,message",
    [
        (
            "databases/exams_warehouse.yaml",
            lambda d: d["extra"]["engine_params"]["connect_args"].update(read_only=False),
            "read_only",
        ),
        ("databases/exams_warehouse.yaml", lambda d: d.update(allow_dml=True), "allow_dml"),
        (
            "charts/Candidats_admis.yaml",
            lambda d: d.update(dataset_uuid="00000000-0000-0000-0000-000000000000"),
            "unknown dataset_uuid",
        ),
        (
            "dashboards/Taux_de_reussite.yaml",
            lambda d: d["position"].pop("CHART-reussite-admis"),
            "unknown child",
        ),
        (
            "dashboards/Taux_de_reussite.yaml",
            lambda d: d["metadata"]["native_filter_configuration"][0]["scope"].update(
                excluded=[999]
            ),
            "excludes unknown chartId",
        ),
    ],
)
def test_validate_rejects(tmp_path, rel, change, message):
    root = _mutated_bundle(tmp_path, rel, change)
    with pytest.raises(bundle_mod.BundleError, match=message):
        bundle_mod.validate(bundle_mod.load(root))


def test_validate_rejects_a_chart_in_no_dashboard(tmp_path):
    def unplace(d):
        row = d["position"]["ROW-reussite-chiffres"]
        row["children"].remove("CHART-reussite-admis")
        del d["position"]["CHART-reussite-admis"]

    root = _mutated_bundle(tmp_path, "dashboards/Taux_de_reussite.yaml", unplace)
    with pytest.raises(bundle_mod.BundleError, match="in no dashboard"):
        bundle_mod.validate(bundle_mod.load(root))


# ---- superset_config.py: the secret key ------------------------------------------------------
def _load_config(home: Path, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("SUPERSET_")}
    full.update(SUPERSET_HOME=str(home), PYTHONPATH=str(REPO_ROOT / "src"), **env)
    code = (
        "import runpy, sys; cfg = runpy.run_path(sys.argv[1]); "
        "print(cfg['SECRET_KEY']); print(cfg['WTF_CSRF_ENABLED'])"
    )
    return subprocess.run(
        [sys.executable, "-c", code, str(CONFIG_FILE)],
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_config_refuses_to_start_without_secret_key_in_production(tmp_path):
    proc = _load_config(tmp_path, EXAMS_MODE="production")
    assert proc.returncode != 0
    assert "SUPERSET_SECRET_KEY" in proc.stderr
    assert not (tmp_path / ".secret_key").exists()


def test_config_uses_the_given_secret_key(tmp_path):
    proc = _load_config(tmp_path, EXAMS_MODE="production", SUPERSET_SECRET_KEY="given-key")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["given-key", "True"]


def test_config_generates_and_keeps_a_secret_key_in_test_mode(tmp_path):
    first = _load_config(tmp_path, EXAMS_MODE="test")
    second = _load_config(tmp_path, EXAMS_MODE="demo")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    key = first.stdout.split()[0]
    assert len(key) >= 40 and second.stdout.split()[0] == key
    assert stat.S_IMODE((tmp_path / ".secret_key").stat().st_mode) == 0o600


# ---- the home: private, created so ------------------------------------------------------------
def test_home_is_created_private(tmp_path, monkeypatch):
    home = tmp_path / "new" / "home"
    monkeypatch.setenv("SUPERSET_HOME", str(home))
    assert ensure_private_home() == home
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


def test_an_open_home_is_told_once_and_left_as_it_is(tmp_path, monkeypatch, caplog):
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)  # whatever the test's umask
    (home / "superset.db").write_text("")
    os.chmod(home / "superset.db", 0o644)  # as a former version left it
    monkeypatch.setenv("SUPERSET_HOME", str(home))
    with caplog.at_level("WARNING", logger="exams.superset_app"):
        ensure_private_home()
    (record,) = [r for r in caplog.records if r.levelname == "WARNING"]
    assert "home 755" in record.getMessage() and "superset.db 644" in record.getMessage()
    assert str(home) in record.getMessage()
    assert stat.S_IMODE(home.stat().st_mode) == 0o755  # not chmodded
    caplog.clear()
    os.chmod(home, 0o700)
    os.chmod(home / "superset.db", 0o600)
    with caplog.at_level("WARNING", logger="exams.superset_app"):
        ensure_private_home()
    assert not caplog.records


# ---- admin password ---------------------------------------------------------------------
def test_admin_password_is_generated_once_and_kept(tmp_path, monkeypatch):
    from exams.superset_app.provision import admin_password, known_admin_password

    monkeypatch.setenv("SUPERSET_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SUPERSET_ADMIN_PASSWORD", raising=False)
    assert known_admin_password() == ("", "SUPERSET_ADMIN_PASSWORD")  # never generates
    first, source = admin_password()
    again, _ = admin_password()
    assert first == again and len(first) >= 20
    assert known_admin_password() == (first, source)
    assert stat.S_IMODE(Path(source).stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(source).parent.stat().st_mode) == 0o700

    other_home = tmp_path / "other"
    monkeypatch.setenv("SUPERSET_HOME", str(other_home))
    assert admin_password()[0] != first  # random, never a fixed default

    monkeypatch.setenv("SUPERSET_ADMIN_PASSWORD", "from-the-environment")
    assert admin_password() == ("from-the-environment", "SUPERSET_ADMIN_PASSWORD")


def test_passwords_stay_out_of_the_superset_processes_environment(monkeypatch, tmp_path):
    from exams.superset_app import superset_env

    monkeypatch.setenv("SUPERSET_HOME", str(tmp_path))
    monkeypatch.setenv("SUPERSET_ADMIN_PASSWORD", "admin-secret")
    monkeypatch.setenv("SUPERSET_ANALYST_PASSWORD", "analyst-secret")
    env = superset_env()
    assert "admin-secret" not in env.values() and "analyst-secret" not in env.values()
    assert env["SUPERSET_CONFIG_PATH"] == str(CONFIG_FILE)


# ---- access as code (dashboards/security.yaml) -------------------------------------------------
def _seed_academies() -> list[tuple[str, str]]:
    import csv

    with (REPO_ROOT / "dbt_project/seeds/ref_academies.csv").open(encoding="utf-8") as fh:
        return [(r["academy_code"], r["academy_name"]) for r in csv.DictReader(fh)]


def test_access_plan_has_one_role_per_academy_of_the_seed(bundle):
    plan = access.load_plan(bundle)
    by_academy = {r.academy.code: r for r in plan.roles if r.academy}
    assert sorted((r.academy.code, r.academy.name) for r in by_academy.values()) == sorted(
        _seed_academies()
    )
    assert by_academy["10"].name == "Rectorat 10 Lyon"
    assert by_academy["10"].rls_clause == "academy_code = '10'"
    assert by_academy["70"].rls_clause == "academy_code = '70'"
    # the académies come from the seed, never from a copy in the YAML
    text = access.SECURITY_FILE.read_text(encoding="utf-8")
    assert "Lyon" not in text and "Créteil" not in text

    datasets = {str(d["uuid"]): d for d in bundle.datasets.values()}
    with_academy = {
        u
        for u, d in datasets.items()
        if any(c["column_name"] == "academy_code" for c in d["columns"])
    }
    for role in by_academy.values():
        assert set(role.rls_dataset_uuids) == with_academy
        read = {(datasets[u]["schema"], datasets[u]["table_name"]) for u in role.dataset_uuids}
        assert read == {
            ("marts", "pass_rates"),
            ("marts", "national_pass_rates"),
            ("marts", "academie_et_national"),
            ("marts", "outcome_counts"),
            ("marts", "block_capitalisation"),
            ("marts", "establishment_results"),
        }
        # the national benchmark has no académie: readable whole, no row-level security on it
        national = next(u for u, d in datasets.items() if d["table_name"] == "national_pass_rates")
        assert national in role.dataset_uuids and national not in role.rls_dataset_uuids
    (ministry,) = [r for r in plan.roles if r.name == "Ministère"]
    assert set(ministry.dataset_uuids) == set(datasets) and ministry.rls_clause is None


def _mutated_spec(change) -> dict:
    spec = access.load_spec()
    change(spec)
    return spec


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda s: s["roles"][1]["datasets"].append("audit.quarantine"), "may never read"),
        (
            lambda s: s["roles"][1]["datasets"].append("marts.fct_candidate_session"),
            "may never read",
        ),
        (  # « Qualité des données » would open with charts on audit tables broken
            lambda s: (
                s.update(analysts_never={}),
                s["roles"][1]["datasets"].append("marts.fct_candidate_session"),
            ),
            "cannot read",
        ),
        (lambda s: s["roles"][1]["datasets"].append("marts.nope"), "unknown datasets"),
        (lambda s: s["roles"][1]["row_level_security"].update(clause="1 = 1"), "clause"),
        (lambda s: s["roles"][1].update(name="Rectorat"), "academy_code"),
    ],
)
def test_access_plan_rejects(bundle, change, message):
    academies = [access.Academy(c, n) for c, n in _seed_academies()]
    with pytest.raises(access.AccessError, match=message):
        access.plan(_mutated_spec(change), bundle, academies)


def test_academies_fall_back_to_the_warehouse_copy_of_the_seed(tmp_path):
    import duckdb

    warehouse = tmp_path / "results.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("CREATE SCHEMA reference")
    con.execute(
        "CREATE TABLE reference.ref_academies AS SELECT * FROM read_csv(?, all_varchar=true)",
        [str(REPO_ROOT / "dbt_project/seeds/ref_academies.csv")],
    )
    con.close()
    spec = _mutated_spec(lambda s: s["academies"].update(seed="no/such/seed.csv"))
    got = access.read_academies(spec, warehouse)
    assert sorted((a.code, a.name) for a in got) == sorted(_seed_academies())
    with pytest.raises(access.AccessError, match="no list of académies"):
        access.read_academies(spec, tmp_path / "missing.duckdb")


def test_make_analyst_takes_no_password_and_refuses_an_unknown_academy():
    makefile = (REPO_ROOT / "mk" / "superset.mk").read_text()
    assert "PASSWORD)" not in makefile  # no PASSWORD=… on make's command line
    dry = subprocess.run(
        ["make", "-n", "analyst", "ACADEMY=10", "USERNAME=jdupont"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert (
        "/.venv/superset/bin/exams superset analyst --academy '10' --username 'jdupont'"
        in dry.stdout
    )
    if not SUPERSET_PY.exists():
        pytest.skip("no Superset environment (make env-superset)")
    for academy in ("99", "ZZ"):
        proc = subprocess.run(
            ["make", "--no-print-directory", "analyst", f"ACADEMY={academy}", "USERNAME=x"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 2
        assert f"exams: error: unknown académie '{academy}'" in proc.stderr
    usage = subprocess.run(["make", "--no-print-directory", "analyst", "USERNAME=x"],
                           cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert usage.returncode != 0 and "usage: make analyst" in usage.stderr


# ---- superset_config.py: metadata database and caches (docker-compose.yml) -------------------
def _config_values(home: Path, *names: str, **env: str) -> dict:
    import json

    full = {k: v for k, v in os.environ.items() if not k.startswith("SUPERSET_")}
    full.update(SUPERSET_HOME=str(home), PYTHONPATH=str(REPO_ROOT / "src"), EXAMS_MODE="test")
    full.update(env)
    code = (
        "import json, runpy, sys; cfg = runpy.run_path(sys.argv[1]); "
        "print(json.dumps({k: cfg.get(k) for k in sys.argv[2:]}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(CONFIG_FILE), *names],
        env=full, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


NAMES = ("SQLALCHEMY_DATABASE_URI", "CACHE_CONFIG", "DATA_CACHE_CONFIG", "FEATURE_FLAGS",
         "RATELIMIT_STORAGE_URI", "RATELIMIT_ENABLED", "AUTH_RATE_LIMITED", "AUTH_RATE_LIMIT",
         "RATELIMIT_APPLICATION")  # fmt: skip


def test_config_defaults_to_sqlite_and_in_process_caches(tmp_path):
    cfg = _config_values(tmp_path, *NAMES)
    assert cfg["SQLALCHEMY_DATABASE_URI"].startswith(f"sqlite:///{tmp_path}/superset.db")
    assert cfg["CACHE_CONFIG"]["CACHE_TYPE"] == "SimpleCache"
    assert cfg["DATA_CACHE_CONFIG"]["CACHE_TYPE"] == "SimpleCache"
    # a nightly publication shows on the dashboards within a minute
    assert cfg["DATA_CACHE_CONFIG"]["CACHE_DEFAULT_TIMEOUT"] <= 60
    assert cfg["FEATURE_FLAGS"]["ALLOW_ADHOC_SUBQUERY"] is False
    # login throttling: counted in the (single) gunicorn process, Superset's app-wide limit off
    assert cfg["RATELIMIT_STORAGE_URI"] == "memory://"
    assert cfg["RATELIMIT_ENABLED"] is True and cfg["AUTH_RATE_LIMITED"] is True
    assert cfg["AUTH_RATE_LIMIT"] == load_superset({}).login_rate_limit
    assert cfg["RATELIMIT_APPLICATION"] is None


def test_config_takes_the_login_rate_limit_from_the_setting(tmp_path):
    cfg = _config_values(tmp_path, "AUTH_RATE_LIMIT", SUPERSET_LOGIN_RATE_LIMIT="3 per 1 hour")
    assert cfg["AUTH_RATE_LIMIT"] == "3 per 1 hour"


COOKIES = ("SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
           "REMEMBER_COOKIE_SECURE", "REMEMBER_COOKIE_HTTPONLY", "REMEMBER_COOKIE_SAMESITE",
           "TALISMAN_CONFIG")  # fmt: skip


@pytest.mark.parametrize("https", [False, True])
def test_cookies_are_httponly_lax_and_secure_over_https(tmp_path, https):
    env = {"SUPERSET_HTTPS": "true"} if https else {}
    cfg = _config_values(tmp_path, *COOKIES, **env)
    for cookie in ("SESSION", "REMEMBER"):
        assert cfg[f"{cookie}_COOKIE_HTTPONLY"] is True
        assert cfg[f"{cookie}_COOKIE_SAMESITE"] == "Lax"
        assert cfg[f"{cookie}_COOKIE_SECURE"] is https
    talisman = cfg["TALISMAN_CONFIG"]
    assert talisman["session_cookie_secure"] is https and talisman["force_https"] is https
    assert talisman["session_cookie_samesite"] == "Lax"
    assert talisman["session_cookie_http_only"] is True


def test_config_reads_the_metadata_uri_and_redis_from_the_environment(tmp_path):
    uri = "postgresql+psycopg2://exams:pw@postgres:5432/superset"
    redis = "redis://redis:6379/0"
    cfg = _config_values(tmp_path, *NAMES, SUPERSET_DATABASE_URI=uri, SUPERSET_REDIS_URL=redis)
    assert cfg["SQLALCHEMY_DATABASE_URI"] == uri
    for name in ("CACHE_CONFIG", "DATA_CACHE_CONFIG"):
        assert cfg[name]["CACHE_TYPE"] == "RedisCache"
        assert cfg[name]["CACHE_REDIS_URL"] == redis
    assert cfg["CACHE_CONFIG"]["CACHE_KEY_PREFIX"] != cfg["DATA_CACHE_CONFIG"]["CACHE_KEY_PREFIX"]
    assert cfg["RATELIMIT_STORAGE_URI"] == redis  # login counters shared by every worker
    assert not (tmp_path / "superset.db").exists()
    if not SUPERSET_PY.exists():
        return
    # flask-caching (Superset's environment) builds both caches from it, without connecting
    code = (
        "import runpy, sys; from flask import Flask; from flask_caching import Cache; "
        "cfg = runpy.run_path(sys.argv[1]); "
        "print(*[type(Cache(Flask('t'), config=cfg[n]).cache).__name__ "
        "for n in ('CACHE_CONFIG', 'DATA_CACHE_CONFIG')])"
    )
    env = {**os.environ, "SUPERSET_HOME": str(tmp_path), "EXAMS_MODE": "test",
           "SUPERSET_DATABASE_URI": uri, "SUPERSET_REDIS_URL": redis}  # fmt: skip
    proc = subprocess.run([str(SUPERSET_PY), "-c", code, str(CONFIG_FILE)], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["RedisCache", "RedisCache"]
