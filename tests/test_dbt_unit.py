"""dbt unit tests (the models' rules on hand-made rows). The nightly build leaves them out (they
test the SQL, not the night's data, as dbt recommends), so `make test` runs every one of them
here, through the pipeline's own dbt helper, against a build database made by a real run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from pipeline_support import REPO_ROOT, pipeline_env

MODELS = REPO_ROOT / "dbt_project" / "models"

# run in a child process: dbt's in-process state (adapter, logging) stays out of pytest's
RUN_UNIT_TESTS = """
import json, sys
from exams import settings, transform
s = settings.load()  # the published file stands for the publication file dbt attaches
result = transform.dbt(["test", "--select", "test_type:unit"], s, publish_db=s.warehouse)
rows = [[r.node.resource_type, r.node.name, str(r.status)] for r in result.results]
open(sys.argv[1], "w").write(json.dumps(rows))
"""


def defined_unit_tests() -> set[str]:
    names: list[str] = []
    for path in sorted(MODELS.rglob("*.yml")):
        names += [t["name"] for t in (yaml.safe_load(path.read_text()) or {}).get("unit_tests", [])]
    assert len(names) == len(set(names)), "unit test names must be unique"
    return set(names)


def test_every_dbt_unit_test_runs_and_passes(published_warehouse: Path, tmp_path: Path) -> None:
    # a copy of the run's warehouse folder (build database, dbt target): the shared one stays as is
    warehouse = tmp_path / "warehouse" / "results.duckdb"
    shutil.copytree(published_warehouse.parent, warehouse.parent)
    env = pipeline_env(REPO_ROOT / "data" / "raw", warehouse)
    out = tmp_path / "unit_tests.json"
    proc = subprocess.run(
        [sys.executable, "-c", RUN_UNIT_TESTS, str(out)],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, (
        f"dbt unit tests failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    )
    results = json.loads(out.read_text())
    assert {kind for kind, _, _ in results} == {"unit_test"}
    assert [r for r in results if r[2] != "pass"] == []
    expected = defined_unit_tests()
    assert len(expected) >= 11
    assert sorted(name for _, name, _ in results) == sorted(expected)
