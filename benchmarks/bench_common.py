"""The benchmark's shared settings, in one place: paths, scales, the contenders and ratios, the
contract's columns, the pipeline's environment, and what the hand-written references share.

Standard library only: imported by bench.py, chart.py and the reference scripts.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from exams.orchestration import STAGE_NAMES

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
DATA_DIR = HERE / "data"  # generated exports, warehouses, logs, code snapshots (gitignored)
RESULTS_DIR = HERE / "results"  # <scale>.json and <scale>.png: the last run at each scale

# ---- the run ----------------------------------------------------------------------------------
STAGES = list(STAGE_NAMES)  # run as `python -m exams.cli <stage>` (older commits too)
DEFAULT_SCALE = 2_000_000  # épreuve rows; 20_000_000 is the national-scale target
SMOKE_SCALE = 20_000
SESSIONS = list(range(2020, 2030))  # ten national sessions
SMOKE_SESSIONS = [2021, 2025]  # before/after CONTROLE (2022) and the RNCP change (2024)
SEED = 20250704  # the generator's
PSEUDONYM_KEY = "bench"  # the pipeline's and the contract floor's key: same candidate_key


def pipeline_env(raw: Path, warehouse: Path, extracts: Path) -> dict[str, str]:
    """The environment of every benchmarked pipeline process (test mode, a fixed key)."""
    return {
        "EXAMS_MODE": "test",
        "EXAMS_PSEUDONYM_KEY": PSEUDONYM_KEY,
        "EXAMS_RAW_DIR": str(raw),
        "EXAMS_WAREHOUSE": str(warehouse),
        "EXAMS_EXTRACTS_DIR": str(extracts),
        "TQDM_DISABLE": "1",
    }


# ---- contenders and ratios (bench.py's table, chart.py's chart) --------------------------------
# every timed process of a result, by its key in the JSON (a stage is under "stages")
CONTENDERS = {
    "whole_run": "whole run (sum of the stages)",
    "contract_floor": "contract floor",
    "raw_duckdb": "raw DuckDB",
    "pandas": "pandas",
    "csv_load": "DuckDB CSV load",
    "rerun": "no-change `exams run`",
}
# (key, label, numerator, denominator); the first is the headline
RATIOS = [
    ("run_vs_floor", "whole run / contract floor", "whole_run", "contract_floor"),
    ("run_vs_raw", "whole run / raw DuckDB", "whole_run", "raw_duckdb"),
    ("transform_vs_raw", "transform / raw DuckDB", "transform", "raw_duckdb"),
    ("floor_vs_raw", "contract floor / raw DuckDB", "contract_floor", "raw_duckdb"),
    ("pandas_vs_run", "pandas / whole run", "pandas", "whole_run"),
    ("ingest_vs_csv_load", "ingest / DuckDB CSV load", "ingest", "csv_load"),
]


def measure(result: dict, name: str) -> dict:
    """One timed process of a result: wall_s, cpu_s, peak_rss_mb, …"""
    return result["stages"][name] if name in STAGES else result[name]


def ratios(result: dict) -> dict[str, float]:
    """Every ratio on wall time (`key`) and on CPU time (`cpu_key`), the run's peak memory and
    the no-change run's wall time."""
    out = {}
    for key, _, num, den in RATIOS:
        a, b = measure(result, num), measure(result, den)
        out[key] = round(a["wall_s"] / b["wall_s"], 2)
        out[f"cpu_{key}"] = round(a["cpu_s"] / b["cpu_s"], 2)
    out["peak_rss_gb"] = round(result["whole_run"]["peak_rss_mb"] / 1024, 2)
    out["rerun_s"] = result["rerun"]["wall_s"]
    return out


# ---- warehouse-contract.md, schema marts ------------------------------------------------------
CONTRACT_MARTS = [
    "fct_candidate_session", "fct_unit_result", "pass_rates", "block_capitalisation",
    "establishment_results", "national_pass_rates", "outcome_counts",
]  # fmt: skip
# the two marts every reference computes (contract columns, in the contract's order)
PASS_RATES = [
    "session", "academy_code", "academy_name", "candidate_category", "access_route",
    "registered", "incomplete", "present", "admitted", "controle", "refused", "absent",
    "pass_rate",
]  # fmt: skip
BLOCKS = [
    "session", "academy_code", "candidate_category", "access_route", "unit_code", "block_code",
    "assessed", "acquired", "acquired_by_non_admitted", "vae_validated", "acquisition_rate",
]  # fmt: skip
REFERENCE_MARTS = {"pass_rates": PASS_RATES, "block_capitalisation": BLOCKS}

# ---- what the hand-written references share ---------------------------------------------------
# bench.py --ref REV points this at the benchmarked snapshot's seeds
SEEDS_DIR = Path(os.environ.get("BENCH_SEEDS_DIR") or REPO_ROOT / "dbt_project" / "seeds")
# seed columns renamed since (8241736): a --ref run of an older commit reads its own seeds
OLD_SEED_COLUMNS = {"code_epreuve": "epreuve_code"}
NAME_RE = re.compile(r"^NDRC_(\d{4})_(\d{2})_(\d{8}T\d{6})\.csv$")
REFERENCE_SQL = HERE / "reference_data.sql"
MARTS_SQL = HERE / "reference_marts.sql"


def seed_column(seed: str, name: str) -> str:
    """`name`, or its older name if the seed file still has that one."""
    with open(SEEDS_DIR / seed, encoding="utf-8") as f:
        header = f.readline().strip().split(",")
    old = [o for o, new in OLD_SEED_COLUMNS.items() if new == name and o in header]
    return old[0] if old else name


def reference_script(sql: Path, files: list[Path], **values: str) -> str:
    """reference_data.sql, `sql`, then reference_marts.sql, with their placeholders filled:
    {{files}} (a list literal of `files`), {{seeds}}, {{epreuve_code}} and `values`."""
    text = "\n".join(p.read_text() for p in (REFERENCE_SQL, sql, MARTS_SQL))
    listing = "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"
    filled = {
        "files": listing,
        "seeds": str(SEEDS_DIR),
        "epreuve_code": seed_column("ref_epreuves.csv", "epreuve_code"),
        **values,
    }
    for name, value in filled.items():
        text = text.replace("{{" + name + "}}", value)
    return text


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
