"""The benchmark's smoke run (what `make bench-smoke` runs, ~20 k rows): the pipeline, raw DuckDB,
pandas and the contract floor compute the same marts from the same generated exports, and the
result's JSON and chart are written. Timings are reported by `make bench`, never asserted."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from matplotlib.image import imread

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from bench import agreement, markdown  # noqa: E402
from bench_common import CONTENDERS, REFERENCE_MARTS, SMOKE_SCALE, STAGES, ratios  # noqa: E402

# marts every benchmarked commit publishes (national_pass_rates and outcome_counts are compared
# once the pipeline has them)
FIVE_MARTS = [
    "fct_candidate_session", "fct_unit_result", "pass_rates", "block_capitalisation",
    "establishment_results",
]  # fmt: skip


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, "benchmarks/bench.py", "--smoke", "--work", str(work)],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return work / "smoke"


def test_the_contenders_agree_and_the_results_are_written(smoke: Path) -> None:
    result = json.loads((smoke / "results" / f"{SMOKE_SCALE}.json").read_text())
    assert result["agreement"]["ok"] is True
    assert result["agreement"]["problems"] == []
    assert result["agreement"]["candidates_registered"] > 0
    assert result["agreement"]["pipeline_quarantined_rows"] == {}  # clean generated data
    # every reference was compared, and every mart the pipeline and the floor both publish
    compared = result["agreement"]["compared"]
    for ref in ("raw_duckdb", "pandas"):
        assert {f"{ref}: {t}" for t in REFERENCE_MARTS} <= set(compared)
    assert {f"contract_floor: {t}" for t in FIVE_MARTS} <= set(compared)
    for name in [*STAGES, *CONTENDERS]:
        m = result["stages"][name] if name in STAGES else result[name]
        assert m["wall_s"] > 0 and m["cpu_s"] > 0 and m["peak_rss_mb"] > 0
    assert result["rerun"]["detected_no_change"] is True
    assert result["ratios"] == ratios(result)
    # the table leads with the headline ratio, as computed from the measures
    table = markdown([result])
    q = result["ratios"]
    headline = f"**{q['run_vs_floor']:.2f}; {q['cpu_run_vs_floor']:.2f}**"
    assert f"| **whole run / contract floor** (wall; CPU) | {headline} |" in table
    chart = imread(smoke / "results" / f"{SMOKE_SCALE}.png")
    assert chart.shape[0] > 300 and chart.shape[1] > 600


def test_a_changed_count_is_a_disagreement(smoke: Path, tmp_path: Path) -> None:
    """The agreement check is not vacuous: one count changed in a copy of the publication is
    reported against each of the three references that compute pass_rates."""
    warehouse = tmp_path / "results.duckdb"
    shutil.copy(smoke / "warehouse" / "results.duckdb", warehouse)
    con = duckdb.connect(str(warehouse))
    con.execute(
        "UPDATE marts.pass_rates SET admitted = admitted + 1 WHERE (session, academy_code, "
        "candidate_category) = (SELECT (session, academy_code, candidate_category) "
        "FROM marts.pass_rates ORDER BY ALL LIMIT 1)"
    )
    con.close()
    problems = agreement(warehouse, smoke / "out")["problems"]
    assert [p.split(":")[0] for p in problems] == [
        "pipeline vs raw_duckdb", "pipeline vs raw_duckdb", "pipeline vs pandas",
        "pipeline vs pandas", "pipeline vs contract floor", "pipeline vs contract floor",
    ]  # fmt: skip
    assert all("pass_rates" in p and "1 row(s)" in p for p in problems)
