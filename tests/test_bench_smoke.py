"""The benchmark at a small scale: the pipeline, a hand-written DuckDB script, a pandas script
and the contract floor compute the same marts from the same generated exports (four
implementations of domain.md must agree; timings are reported by `make bench`, never asserted
here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_pipeline_raw_duckdb_and_pandas_agree() -> None:
    proc = subprocess.run(
        [sys.executable, "benchmarks/bench.py", "--scale", "20000", "--smoke"],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "agreement: identical" in proc.stdout
    results = sorted((REPO / "benchmarks/data/smoke/results").glob("*-20000.json"))
    report = json.loads(results[-1].read_text())
    assert report["agreement"]["ok"] is True
    assert report["agreement"]["pass_rates_rows"] > 0
    # the contract floor ran, and its five marts equal the pipeline's (part of "ok" above)
    assert report["contract_floor"]["rc"] == 0
    assert report["ratios"]["run_vs_floor"] > 0
