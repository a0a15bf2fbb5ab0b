"""The contract's floor: the least work warehouse-contract.md asks for, hand-written in DuckDB.

    python benchmarks/contract_floor.py --raw-dir DIR --db FILE

Runs contract_floor.sql in one DuckDB file (DuckDB's defaults: all cores): keeps every row of
the latest export of each (session, académie), computes the keyed hash once per candidate and
writes every published mart as a table of --db, which bench.py compares with the pipeline's. No
validation, line numbers, audit, tests, checks, publication or extracts: a bound below any
implementation of the contract, to tell the contract's own cost from the pipeline's overhead.
Prints each statement's time.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
import time
from pathlib import Path

import duckdb
from bench_common import PSEUDONYM_KEY, SEEDS_DIR, latest_exports, reference_script

SQL = Path(__file__).with_suffix(".sql")


def key_pads(key: bytes) -> tuple[str, str]:
    """HMAC-SHA256 inner and outer pads (hex): the keyed hash computed inside DuckDB."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    k = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in k).hex(), bytes(b ^ 0x5C for b in k).hex()


def unit_sql() -> dict[str, str]:
    """Per unit of the seed (in unit_code order, as `units.i` in the SQL): its two sums."""
    with open(SEEDS_DIR / "ref_epreuves.csv", encoding="utf-8") as f:
        units = sorted({row["unit_code"] for row in csv.DictReader(f)})
    sums = []
    for i, unit in enumerate(units):
        where = f"FILTER (WHERE unit_code = '{unit}')"
        sums.append(f"sum(greatest(coefficient, 1)) {where} AS w_{i}")
        sums.append(f"sum(greatest(coefficient, 1) * pts) {where} AS wp_{i}")
    return {
        "unit_sums": ",\n    ".join(sums),
        "unit_weight": " ".join(f"WHEN {i} THEN d.w_{i}" for i in range(len(units))),
        "unit_points": " ".join(f"WHEN {i} THEN d.wp_{i}" for i in range(len(units))),
    }


def run(raw_dir: Path, db: Path) -> None:
    files = latest_exports(raw_dir)
    if not files:
        raise SystemExit(f"no export in {raw_dir}")
    ipad, opad = key_pads(PSEUDONYM_KEY.encode())
    sql = reference_script(SQL, files, ipad=ipad, opad=opad, **unit_sql())
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    con.execute("SET enable_progress_bar = false")
    for statement in sql.split(";\n\n"):  # one line per statement: where the time goes
        started = time.perf_counter()
        con.execute(statement)
        first = next(line for line in statement.splitlines() if line and not line.startswith("--"))
        print(f"{time.perf_counter() - started:7.2f} s  {first}", flush=True)
    con.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw-dir", type=Path, required=True)
    ap.add_argument("--db", type=Path, required=True)
    args = ap.parse_args()
    run(args.raw_dir, args.db)
    return 0


if __name__ == "__main__":
    sys.exit(main())
