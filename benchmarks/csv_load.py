"""DuckDB's own CSV loading: issue #3's reference for the ingest stage.

    python benchmarks/csv_load.py --raw-dir DIR --db FILE

Loads every export of DIR (the benchmark's one dialect) into one table of a DuckDB file, every
field as text, with one `read_csv` over the list: what "DuckDB's CSV reading speed" means for a
stage that must keep the rows. No validation, line numbers, hashing or pseudonymisation.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb


def run(raw_dir: Path, db: Path) -> int:
    files = sorted(str(p) for p in raw_dir.glob("*.csv"))
    if not files:
        raise SystemExit(f"no export in {raw_dir}")
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    con.execute(
        "CREATE TABLE export_rows AS SELECT * FROM read_csv(?, delim = ';', header = true, "
        "all_varchar = true, filename = true)",
        [files],
    )
    rows = con.execute("SELECT count(*) FROM export_rows").fetchone()[0]
    con.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-dir", type=Path, required=True)
    parser.add_argument("--db", type=Path, required=True)
    args = parser.parse_args()
    print(f"{run(args.raw_dir, args.db)} rows loaded into {args.db}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
