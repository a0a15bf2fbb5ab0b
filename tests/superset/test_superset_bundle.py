"""Fast checks of the dashboard bundle, the Superset configuration and the admin password
(no Superset process: they run in the test environment)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from superset_expectations import EXPECTED

from exams.superset_app import BUNDLE_DIR, CONFIG_FILE
from exams.superset_app import bundle as bundle_mod

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bundle() -> bundle_mod.Bundle:
    return bundle_mod.load(BUNDLE_DIR)


def test_bundle_is_valid(bundle):
    bundle_mod.validate(bundle)
    titles = {d["dashboard_title"] for d in bundle.dashboards.values()}
    assert {"Taux de réussite", "Capitalisation des blocs"} <= titles
    tables = {(d["schema"], d["table_name"]) for d in bundle.datasets.values()}
    assert {("marts", "pass_rates"), ("marts", "block_capitalisation")} <= tables


def test_every_chart_has_an_expectation(bundle):
    assert {str(c["uuid"]) for c in bundle.charts.values()} == set(EXPECTED)


def test_rates_are_ratios_of_sums(bundle):
    """Rates must aggregate correctly: SUM(x) / SUM(y), never an average of row rates."""
    for rel, ds in bundle.datasets.items():
        for m in ds["metrics"]:
            expr = m["expression"].upper()
            assert "AVG(" not in expr and "_RATE" not in expr, (rel, m["metric_name"])
            if m["metric_name"].startswith("taux"):
                assert expr.count("SUM(") == 2 and "/" in expr, (rel, m["metric_name"])


def test_render_fills_in_the_warehouse(tmp_path):
    warehouse = tmp_path / "wh dir" / "results.duckdb"
    out = bundle_mod.render(BUNDLE_DIR, warehouse, tmp_path / "bundle.zip")
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert all(n.startswith(bundle_mod.ZIP_ROOT + "/") for n in names)
        assert f"{bundle_mod.ZIP_ROOT}/metadata.yaml" in names
        dbs = [n for n in names if "/databases/" in n]
        assert len(dbs) == 1
        db = yaml.safe_load(zf.read(dbs[0]))
    assert db["sqlalchemy_uri"] == f"duckdb:///{warehouse.resolve()}"
    assert db["extra"]["engine_params"]["connect_args"]["read_only"] is True
    assert db["allow_dml"] is False and db["expose_in_sqllab"] is False


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
    full = {k: v for k, v in os.environ.items() if k != "SUPERSET_SECRET_KEY"}
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


# ---- admin password ---------------------------------------------------------------------
def test_admin_password_is_generated_once_and_kept(tmp_path, monkeypatch):
    from exams.superset_app.__main__ import admin_password

    monkeypatch.setenv("SUPERSET_HOME", str(tmp_path))
    monkeypatch.delenv("SUPERSET_ADMIN_PASSWORD", raising=False)
    first, source = admin_password()
    again, _ = admin_password()
    assert first == again and len(first) >= 20
    assert stat.S_IMODE(Path(source).stat().st_mode) == 0o600

    other_home = tmp_path / "other"
    monkeypatch.setenv("SUPERSET_HOME", str(other_home))
    assert admin_password()[0] != first  # random, never a fixed default

    monkeypatch.setenv("SUPERSET_ADMIN_PASSWORD", "from-the-environment")
    assert admin_password() == ("from-the-environment", "SUPERSET_ADMIN_PASSWORD")
