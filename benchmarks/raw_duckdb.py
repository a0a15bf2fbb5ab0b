"""Hand-optimised raw DuckDB: the two contract marts straight from the export CSVs.

    python benchmarks/raw_duckdb.py --raw-dir DIR --out DIR

Runs raw_duckdb.sql (in memory, DuckDB's defaults: all cores) on the latest export of each
(session, académie) and writes pass_rates.parquet and block_capitalisation.parquet into --out
(what bench.py compares).
Expects the benchmark's dialect (UTF-8, `;`, decimal comma, canonical header), which is what a
script written for one known feed would assume.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb
from bench_common import REFERENCE_MARTS, latest_exports, reference_script

SQL = Path(__file__).with_suffix(".sql")


def run(raw_dir: Path, out: Path) -> None:
    files = latest_exports(raw_dir)
    if not files:
        raise SystemExit(f"no export in {raw_dir}")
    con = duckdb.connect()
    con.execute(reference_script(SQL, files))
    out.mkdir(parents=True, exist_ok=True)
    for table in REFERENCE_MARTS:
        con.execute(f"COPY {table} TO '{out / table}.parquet' (FORMAT parquet)")
    con.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--raw-dir", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    run(args.raw_dir, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
