"""The units of ref_epreuves are read when the models are compiled (macros/unit_codes.sql):
int_candidates_decided gets one set of columns per unit of the seed and int_unit_results_unpivoted
picks each of them; compiling without the seed loaded stops with a message that names it."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

from pipeline_support import REPO_ROOT

DBT_PROJECT = REPO_ROOT / "dbt_project"
COMPILED = Path(".private", "results.work", "dbt_target", "compiled", "exams", "models")


def seed_units() -> set[str]:
    with open(DBT_PROJECT / "seeds" / "ref_epreuves.csv", encoding="utf-8") as f:
        return {row["unit_code"] for row in csv.DictReader(f)}


def test_one_set_of_unit_columns_per_unit_of_the_seed(published_warehouse: Path) -> None:
    compiled = published_warehouse.parent / COMPILED
    decided = (compiled / "intermediate" / "int_candidates_decided.sql").read_text()
    units = (compiled / "intermediate" / "int_unit_results_unpivoted.sql").read_text()
    expected = {(u, u.lower()) for u in seed_units()}
    assert len(expected) >= 7
    for column in ("weight", "points"):  # a unit's sums, over that unit's rows only
        summed = re.findall(rf"filter \(where unit_code = '(\w+)'\)\s+as (\w+)_{column}\b", decided)
        assert set(summed) == expected and len(summed) == len(expected)
    assert {u for _, u in expected} == set(re.findall(r"\bas (\w+)_is_optional_sat\b", decided))
    # each of the six columns picked for every unit
    for unit in seed_units():
        picked = re.findall(rf"when '{unit}' then candidates\.(\w+)", units)
        assert sorted(picked) == sorted(
            f"{unit.lower()}_{c}" for c in
            ("weight", "points", "is_assessed", "is_vae_validated", "is_mandatory",
             "is_optional_sat")
        )  # fmt: skip


def test_compiling_without_the_seed_names_it(tmp_path: Path) -> None:
    env = dict(os.environ)
    env.update(
        EXAMS_BUILD_DB=str(tmp_path / "build.duckdb"),
        EXAMS_PUBLISH_DB=str(tmp_path / "publish.duckdb"),
    )
    dbt = Path(sys.executable).parent / "dbt"
    proc = subprocess.run(
        [str(dbt), "compile", "--profiles-dir", ".", "--target-path", str(tmp_path / "target"),
         "--log-path", str(tmp_path / "logs"), "--select", "int_candidates_decided"],
        cwd=DBT_PROJECT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "the seed ref_epreuves is not loaded" in proc.stdout + proc.stderr
