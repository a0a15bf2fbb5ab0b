"""What the three implementations share: the contract's columns and the choice of input files.

Stdlib only (imported by bench.py, profile_ingest.py, raw_duckdb.py, contract_floor.py and
pandas_ref.py).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# bench.py --ref REV points this at the benchmarked snapshot's seeds
SEEDS_DIR = Path(os.environ.get("BENCH_SEEDS_DIR") or REPO_ROOT / "dbt_project" / "seeds")
NAME_RE = re.compile(r"^NDRC_(\d{4})_(\d{2})_(\d{8}T\d{6})\.csv$")

# warehouse-contract.md, schema marts (names and order are the contract's)
PASS_RATES_KEYS = ["session", "academy_code", "candidate_category"]
PASS_RATES = [
    "session", "academy_code", "academy_name", "candidate_category", "access_route",
    "registered", "incomplete", "present", "admitted", "controle", "refused", "absent",
    "pass_rate",
]  # fmt: skip
BLOCKS_KEYS = ["session", "academy_code", "candidate_category", "unit_code"]
BLOCKS = [
    "session", "academy_code", "candidate_category", "access_route", "unit_code", "block_code",
    "assessed", "acquired", "acquired_by_non_admitted", "vae_validated", "acquisition_rate",
]  # fmt: skip
RATES = {"pass_rate", "acquisition_rate"}


def pipeline_env(raw: Path, warehouse: Path, extracts: Path) -> dict[str, str]:
    """The settings every benchmarked pipeline run uses (test mode, a fixed pseudonym key)."""
    return {
        "EXAMS_MODE": "test",
        "EXAMS_PSEUDONYM_KEY": "bench",
        "EXAMS_RAW_DIR": str(raw),
        "EXAMS_WAREHOUSE": str(warehouse),
        "EXAMS_EXTRACTS_DIR": str(extracts),
        "TQDM_DISABLE": "1",
    }


REFERENCE_SQL = Path(__file__).with_name("reference_data.sql")
MARTS_SQL = Path(__file__).with_name("reference_marts.sql")


def reference_script(sql: Path, files: list[Path], **values: str) -> str:
    """reference_data.sql, `sql`, then reference_marts.sql (the two counted marts), with their
    placeholders filled: {{files}} (a list literal of `files`), {{seeds}} and `values`."""
    text = "\n".join(p.read_text() for p in (REFERENCE_SQL, sql, MARTS_SQL))
    listing = "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"
    for name, value in {"files": listing, "seeds": str(SEEDS_DIR), **values}.items():
        text = text.replace("{{" + name + "}}", value)
    return text


def copy_marts(con, out: Path) -> None:  # noqa: ANN001 (a DuckDB connection; stdlib only here)
    """pass_rates and block_capitalisation, contract columns, to <out>/<table>.parquet: what
    bench.py compares."""
    out.mkdir(parents=True, exist_ok=True)
    for table, cols in (("pass_rates", PASS_RATES), ("block_capitalisation", BLOCKS)):
        con.execute(
            f"COPY (SELECT {', '.join(cols)} FROM {table}) TO '{out / (table + '.parquet')}' "
            "(FORMAT parquet)"
        )


def latest_exports(raw_dir: Path) -> list[Path]:
    """The latest well-named export of each (session, académie), as a hand-written script would
    pick them from the file names (the pipeline does it with its manifest)."""
    latest: dict[tuple[str, str], tuple[str, Path]] = {}
    for path in sorted(raw_dir.glob("*.csv")):
        m = NAME_RE.match(path.name)
        if m:
            key = (m.group(1), m.group(2))
            if key not in latest or latest[key][0] < m.group(3):
                latest[key] = (m.group(3), path)
    return [p for _, p in sorted(latest.values(), key=lambda v: v[1].name)]
