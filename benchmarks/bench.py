"""Benchmarks at national scale: the pipeline's stages against raw DuckDB and pandas.

    python benchmarks/bench.py [--scale 2000000] [--sessions 2020,...,2029] [--smoke]

1. Generates clean exports (no correction, duplicate or misnamed file; UTF-8, `;`, decimal
   comma) with the project's generator into <work>/scale-<N>/raw/ (reused when the same
   settings were already generated), then reads them once to warm the page cache.
2. Times, on those files, each stage as its own process (`exams ingest|transform|check|publish|
   extracts`, fresh warehouse folder, EXAMS_MODE=test), then `exams run` again with no new
   export (must find nothing to do), then benchmarks/raw_duckdb.py and benchmarks/pandas_ref.py,
   benchmarks/csv_load.py (DuckDB loading the same files into a table: ingest's reference) and
   benchmarks/contract_floor.py (the contract's own cost: every row kept, keyed hashes and the
   five published marts written, hand-written in DuckDB with no validation, tests or audit).
   Each process: wall time, CPU time (user + sys) and peak RSS, from os.wait4.
3. Checks that the pipeline's marts.pass_rates and marts.block_capitalisation equal the three
   references (sorted, contract columns, rates within 1e-9), and that its five marts equal the
   contract floor's row for row; exits 1 if not.
4. Writes benchmarks/results/<date>-<scale>.json and .png (chart) and prints the ratios.

--smoke: a small run (20 k rows, 2 sessions) whose results go to <work>/smoke/, not results/.
Exit status: 0 all agree, 1 the three implementations disagree, 2 a process failed.
--ref REV / --code DIR benchmark a commit / a copy of the repository instead of the working tree.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_common import (  # noqa: E402
    BLOCKS,
    BLOCKS_KEYS,
    PASS_RATES,
    PASS_RATES_KEYS,
    RATES,
    REPO_ROOT,
    pipeline_env,
)

STAGES = ["ingest", "transform", "check", "publish", "extracts"]
ROWS_PER_CANDIDATE = 7.145  # 7 mandatory épreuves + EF1 for ~15 % of those with a grade
DEFAULT_SCALE = 2_000_000
SMOKE_SCALE = 20_000
DEFAULT_SESSIONS = list(range(2020, 2030))  # ten national sessions
SMOKE_SESSIONS = [2021, 2025]  # before/after CONTROLE (2022) and the RNCP change (2024)
TARGETS = {  # issue "Benchmarks at national scale", at 20 M rows; reported, never asserted
    "transform_vs_raw": ("<=", 1.3),
    "run_vs_raw": ("<=", 2.0),
    "peak_rss_gb": ("<=", 2.0),
    "pandas_vs_run": (">=", 3.0),
    "rerun_s": ("<=", 10.0),
}
TOLERANCE = 1e-9


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---- data ----------------------------------------------------------------------------------


def generate(raw: Path, scale: int, sessions: list[int], seed: int) -> dict:
    """Clean UTF-8 exports of about `scale` épreuve rows; reused if already there."""
    import exams.generator
    from exams.generator import Dialect, GeneratorConfig, academies_for, generate

    academies = academies_for(max(sessions))
    for s in sessions:
        if academies_for(s) != academies:
            raise SystemExit(f"session {s} has other académies than {max(sessions)}: split the run")
    n_files = len(sessions) * len(academies)
    per_file = max(5, round(scale / ROWS_PER_CANDIDATE / n_files))
    gen_src = Path(exams.generator.__file__).read_bytes()
    wanted = {
        "scale": scale, "sessions": sessions, "academies": academies,
        "candidates_per_file": per_file, "seed": seed,
        "dialect": "utf-8 ; decimal-comma LF", "generator_sha256": hashlib.sha256(gen_src).hexdigest(),
    }  # fmt: skip
    marker = raw.parent / "generated.json"
    if marker.exists() and raw.is_dir():
        done = json.loads(marker.read_text())
        if {k: done.get(k) for k in wanted} == wanted:
            log(f"reusing {done['files']} export(s), {done['rows']:,} rows in {raw}")
            return done
    shutil.rmtree(raw, ignore_errors=True)
    marker.unlink(missing_ok=True)
    log(f"generating {n_files} export(s) × ~{per_file} candidates into {raw}")
    t0 = time.perf_counter()
    cfg = GeneratorConfig(
        sessions=sessions, academies=academies, candidates_per_file=per_file, seed=seed,
        extras=False,
        dialects=[Dialect("utf-8", ";", ",", "\n")],
    )  # fmt: skip
    paths = generate(raw, cfg)
    elapsed = time.perf_counter() - t0
    rows, size = count_rows(paths)
    done = {**wanted, "files": len(paths), "rows": rows, "bytes": size,
            "generate_s": round(elapsed, 2)}  # fmt: skip
    marker.write_text(json.dumps(done, indent=2))
    log(f"generated {len(paths)} file(s), {rows:,} rows, {size / 1e9:.2f} GB in {elapsed:.1f} s")
    return done


def count_rows(paths: list[Path]) -> tuple[int, int]:
    """Data rows and bytes; reading every file also warms the page cache for all contenders."""
    rows = size = 0
    for p in paths:
        with open(p, "rb") as f:
            while chunk := f.read(1 << 22):
                rows += chunk.count(b"\n")
                size += len(chunk)
        rows -= 1  # header
    return rows, size


# ---- timed processes ------------------------------------------------------------------------


def timed(name: str, cmd: list[str], env: dict, logfile: Path) -> dict:
    """Run one process through _spawn.py: wall, user, sys and peak RSS of that process (and of
    the children it waited for), from os.wait4."""
    logfile.parent.mkdir(parents=True, exist_ok=True)
    r, w = os.pipe()
    with open(logfile, "wb") as out:
        spawn = [sys.executable, "-S", str(HERE / "_spawn.py"), str(w), *cmd]
        proc = subprocess.Popen(spawn, env=env, stdout=out, stderr=subprocess.STDOUT,
                                cwd=REPO_ROOT, pass_fds=(w,))  # fmt: skip
        os.close(w)
        with os.fdopen(r, "rb") as pipe:
            report = pipe.read()
        proc.wait()
    ru = (
        json.loads(report)
        if report
        else {"wall_s": 0, "user_s": 0, "sys_s": 0, "maxrss_kib": 0, "rc": proc.returncode or 1}
    )
    rc = ru["rc"]
    result = {
        "wall_s": round(ru["wall_s"], 3),
        "user_s": round(ru["user_s"], 3),
        "sys_s": round(ru["sys_s"], 3),
        "cpu_s": round(ru["user_s"] + ru["sys_s"], 3),
        "peak_rss_mb": round(ru["maxrss_kib"] / 1024, 1),  # Linux: KiB
        "rc": rc,
        "log": str(logfile),
    }
    log(f"{name:<10} {result['wall_s']:8.2f} s wall {result['cpu_s']:8.2f} s cpu "
        f"{result['peak_rss_mb']:8.0f} MB  rc={rc}")  # fmt: skip
    if rc != 0:
        tail = logfile.read_text(errors="replace").splitlines()[-25:]
        log(f"{name} failed; last lines of {logfile}:\n  " + "\n  ".join(tail))
    return result


def exams_cmd(*args: str) -> list[str]:
    exe = Path(sys.executable).parent / "exams"
    return [str(exe), *args] if exe.exists() else [sys.executable, "-m", "exams.cli", *args]


def snapshot(ref: str, work: Path) -> tuple[Path, str]:
    """`git archive` of a revision under the (gitignored) data folder: benchmarks a fixed
    version while the working tree moves. Returns (root, commit)."""
    sha = subprocess.run(["git", "rev-parse", "--verify", f"{ref}^{{commit}}"], cwd=REPO_ROOT,
                         check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
    dest = work / f"code-{sha[:12]}"
    if not (dest / ".complete").exists():
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", sha], cwd=REPO_ROOT, check=True,
                                 capture_output=True).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
        (dest / ".complete").touch()
    return dest, sha


def code_version(root: Path | None, sha: str | None) -> dict:
    if root is not None:
        return {"source": "snapshot" if sha else "code tree", "commit": sha, "root": str(root)}
    git = ["git", "-C", str(REPO_ROOT)]
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    dirty = subprocess.run([*git, "status", "--porcelain", "--", "src", "dbt_project",
                            "expectations"], capture_output=True, text=True).stdout  # fmt: skip
    return {"source": "working tree", "commit": head.strip(), "dirty": bool(dirty.strip()),
            "root": str(REPO_ROOT)}  # fmt: skip


def child_env(base: Path, code_root: Path | None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXAMS_")}
    if code_root is not None:  # the snapshot's package, dbt project, suites and seeds
        env["PYTHONPATH"] = str(code_root / "src")
        env["BENCH_SEEDS_DIR"] = str(code_root / "dbt_project" / "seeds")
    env.update(pipeline_env(base / "raw", base / "warehouse" / "results.duckdb", base / "extracts"))
    return env


# ---- agreement ------------------------------------------------------------------------------


def load_marts(base: Path) -> dict:
    import duckdb

    con = duckdb.connect(str(base / "warehouse" / "results.duckdb"), read_only=True)
    try:
        return {
            "pass_rates": con.execute(f"SELECT {', '.join(PASS_RATES)} FROM marts.pass_rates").df(),
            "block_capitalisation": con.execute(
                f"SELECT {', '.join(BLOCKS)} FROM marts.block_capitalisation"
            ).df(),
            # clean generated data: any quarantined row is a pipeline/generator disagreement
            "quarantine": dict(
                con.execute(
                    "SELECT reason_code, count(*) FROM audit.quarantine GROUP BY 1 ORDER BY 1"
                ).fetchall()
            ),
        }
    finally:
        con.close()


def load_parquet(folder: Path) -> dict:
    import pandas as pd

    return {
        t: pd.read_parquet(folder / f"{t}.parquet") for t in ("pass_rates", "block_capitalisation")
    }


def _normalise(df, cols: list[str], keys: list[str]):
    import pandas as pd

    out = pd.DataFrame(index=range(len(df)))
    for c in cols:
        s = df[c].reset_index(drop=True)
        if c in RATES:
            out[c] = pd.to_numeric(s, errors="raise").astype("float64")
        elif c in ("session",) or pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            out[c] = pd.to_numeric(s).astype("int64")
        else:
            out[c] = s.astype(object).where(s.notna(), "").astype(str)
    return out.sort_values(keys).reset_index(drop=True)


def compare(a: dict, b: dict, label: str) -> list[str]:
    """Differences between two sets of marts (empty list: identical)."""
    import numpy as np

    problems = []
    for table, cols, keys in (("pass_rates", PASS_RATES, PASS_RATES_KEYS),
                              ("block_capitalisation", BLOCKS, BLOCKS_KEYS)):  # fmt: skip
        x, y = _normalise(a[table], cols, keys), _normalise(b[table], cols, keys)
        if len(x) != len(y):
            problems.append(f"{label} {table}: {len(x)} rows against {len(y)}")
            kx = set(map(tuple, x[keys].values))
            ky = set(map(tuple, y[keys].values))
            only = [[tuple(v.item() if hasattr(v, "item") else v for v in k)
                     for k in sorted(d)[:5]] for d in (kx - ky, ky - kx)]  # fmt: skip
            problems.append(f"  only left: {only[0]}; only right: {only[1]}")
            continue
        if not x[keys].equals(y[keys]):
            problems.append(f"{label} {table}: different keys")
            continue
        for c in cols:
            if c in RATES:
                xa, ya = x[c].to_numpy(), y[c].to_numpy()
                bad = ~((np.isnan(xa) & np.isnan(ya)) | (np.abs(xa - ya) <= TOLERANCE))
            else:
                bad = (x[c] != y[c]).to_numpy()
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                key = {k: x.loc[i, k].item() if hasattr(x.loc[i, k], "item") else x.loc[i, k]
                       for k in keys}  # fmt: skip
                problems.append(
                    f"{label} {table}.{c}: {int(bad.sum())} row(s) differ, e.g. "
                    f"{key}: {x.loc[i, c]} against {y.loc[i, c]}"
                )
    return problems


PUBLISHED_MARTS = ["fct_candidate_session", "fct_unit_result", "pass_rates",
                   "block_capitalisation", "establishment_results"]  # fmt: skip


def compare_published(base: Path, floor_db: Path) -> list[str]:
    """The pipeline's five marts against the contract floor's, row for row on the columns both
    have (EXCEPT ALL both ways; same key, so the same candidate_key). A column the pipeline added
    beyond the floor's is not compared (the contract lets marts gain columns)."""
    import duckdb

    con = duckdb.connect(str(floor_db), read_only=True)
    problems = []
    try:
        con.execute(f"ATTACH '{base / 'warehouse' / 'results.duckdb'}' AS p (READ_ONLY)")
        for table in PUBLISHED_MARTS:
            cols = ", ".join(name for (name,) in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = 'p' "
                "AND schema_name = 'marts' AND table_name = ? AND column_name IN ("
                "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
                "AND table_name = ?) ORDER BY column_index", [table, table]
            ).fetchall())  # fmt: skip
            if not cols:
                problems.append(f"pipeline vs contract floor {table}: no column in common")
                continue
            for a, b in ((f"p.marts.{table}", table), (table, f"p.marts.{table}")):
                n = con.execute(
                    f"SELECT count(*) FROM (SELECT {cols} FROM {a} EXCEPT ALL SELECT {cols} FROM {b})"
                ).fetchone()[0]
                if n:
                    problems.append(f"pipeline vs contract floor {table}: {n} row(s) of {a} "
                                    f"not in {b}")  # fmt: skip
    finally:
        con.close()
    return problems


# ---- report ---------------------------------------------------------------------------------


def ratios(r: dict) -> dict:
    raw = r["raw_duckdb"]["wall_s"]
    run = r["whole_run"]["wall_s"]
    return {
        "transform_vs_raw": round(r["stages"]["transform"]["wall_s"] / raw, 2),
        "run_vs_raw": round(run / raw, 2),
        "pandas_vs_run": round(r["pandas"]["wall_s"] / run, 2),
        "pandas_vs_raw": round(r["pandas"]["wall_s"] / raw, 2),
        "peak_rss_gb": round(r["whole_run"]["peak_rss_mb"] / 1024, 2),
        "rerun_s": r["rerun"]["wall_s"],
        # CPU time (user + sys) is steadier than wall time on a machine shared with other work
        "cpu_transform_vs_raw": round(
            r["stages"]["transform"]["cpu_s"] / r["raw_duckdb"]["cpu_s"], 2
        ),
        "cpu_run_vs_raw": round(r["whole_run"]["cpu_s"] / r["raw_duckdb"]["cpu_s"], 2),
        "cpu_pandas_vs_run": round(r["pandas"]["cpu_s"] / r["whole_run"]["cpu_s"], 2),
        # issue #3: ingest against DuckDB loading the same CSV files into a table
        "ingest_vs_csv_load": round(r["stages"]["ingest"]["wall_s"] / r["csv_load"]["wall_s"], 2),
        "cpu_ingest_vs_csv_load": round(r["stages"]["ingest"]["cpu_s"] / r["csv_load"]["cpu_s"], 2),
        # the contract's own cost: what is left is the pipeline's overhead over the floor
        "run_vs_floor": round(run / r["contract_floor"]["wall_s"], 2),
        "cpu_run_vs_floor": round(r["whole_run"]["cpu_s"] / r["contract_floor"]["cpu_s"], 2),
        "floor_vs_raw": round(r["contract_floor"]["wall_s"] / raw, 2),
        "cpu_floor_vs_raw": round(r["contract_floor"]["cpu_s"] / r["raw_duckdb"]["cpu_s"], 2),
    }


def table(r: dict) -> str:
    q = r["ratios"]
    lines = [f"scale {r['data']['rows']:,} rows ({r['data']['files']} files, "
             f"{len(r['data']['sessions'])} sessions), {r['date']}", ""]  # fmt: skip
    lines.append(f"{'process':<16}{'wall s':>9}{'cpu s':>9}{'peak MB':>9}")
    rows = [(s, r["stages"][s]) for s in STAGES] + [
        ("whole run", r["whole_run"]), ("no-change run", r["rerun"]),
        ("raw DuckDB", r["raw_duckdb"]), ("pandas", r["pandas"]),
        ("DuckDB CSV load", r["csv_load"]), ("contract floor", r["contract_floor"]),
    ]  # fmt: skip
    for name, m in rows:
        lines.append(f"{name:<16}{m['wall_s']:>9.2f}{m['cpu_s']:>9.2f}{m['peak_rss_mb']:>9.0f}")
    lines += ["", f"{'ratio (wall time)':<34}{'value':>8}  target at 20 M   {'cpu time':>8}"]
    labels = {
        "transform_vs_raw": "transform / raw DuckDB",
        "run_vs_raw": "whole run (no Airflow) / raw DuckDB",
        "pandas_vs_run": "pandas / whole run",
        "peak_rss_gb": "peak memory (GB, max over stages)",
        "rerun_s": "no-change run (s)",
    }
    for k, label in labels.items():
        op, target = TARGETS[k]
        ok = q[k] <= target if op == "<=" else q[k] >= target
        cpu = f"{q['cpu_' + k]:>8.2f}" if "cpu_" + k in q else ""
        lines.append(
            f"{label:<34}{q[k]:>8.2f}  {op} {target:<4g} {'ok' if ok else 'MISSED':<7}{cpu}"
        )
    lines.append(f"{'pandas / raw DuckDB':<34}{q['pandas_vs_raw']:>8.2f}")
    lines.append(f"{'ingest / DuckDB CSV load (#3)':<34}{q['ingest_vs_csv_load']:>8.2f}"
                 f"{'':>25}{q['cpu_ingest_vs_csv_load']:>8.2f}")  # fmt: skip
    for k, label in (("floor_vs_raw", "contract floor / raw DuckDB"),
                     ("run_vs_floor", "whole run / contract floor")):  # fmt: skip
        lines.append(f"{label:<34}{q[k]:>8.2f}{'':>25}{q['cpu_' + k]:>8.2f}")
    load = r.get("load_average", {})
    lines.append(f"load average (1 min) before/after: {load.get('before')}/{load.get('after')} "
                 f"on {r['machine']['cores']} cores")  # fmt: skip
    lines.append("")
    lines.append("agreement: " + ("identical" if r["agreement"]["ok"] else "DIFFERENT"))
    if r["agreement"]["pipeline_quarantined_rows"]:
        lines.append(f"rows the pipeline quarantined in clean generated data: "
                     f"{r['agreement']['pipeline_quarantined_rows']}")  # fmt: skip
    return "\n".join(lines)


def markdown(results: list[dict]) -> str:
    """One markdown table for several result files (the README's "Latest results")."""
    head = ["", *(f"{r['data']['rows'] / 1e6:.0f} M rows" for r in results)]
    rows = [["code", *(f"`{(r['code'].get('commit') or '?')[:7]}`" for r in results)],
            ["load average before/after", *(f"{r['load_average']['before']}/"
                                            f"{r['load_average']['after']}" for r in results)]]  # fmt: skip
    for name in [*STAGES, "whole_run", "rerun", "raw_duckdb", "pandas", "contract_floor"]:
        cells = []
        for r in results:
            m = r["stages"][name] if name in STAGES else r.get(name)
            cells.append(f"{m['wall_s']:.1f} s / {m['cpu_s']:.1f} s / {m['peak_rss_mb']:.0f} MB"
                         if m else "")  # fmt: skip
        label = {"whole_run": "**whole run** (sum)", "rerun": "no-change `exams run`",
                 "raw_duckdb": "raw DuckDB", "pandas": "pandas",
                 "contract_floor": "contract floor"}.get(name, f"`{name}`")  # fmt: skip
        rows.append([label + " (wall / cpu / peak RSS)", *cells])
    for key, label in (("transform_vs_raw", "transform / raw DuckDB"),
                       ("run_vs_raw", "whole run / raw DuckDB"),
                       ("pandas_vs_run", "pandas / whole run")):  # fmt: skip
        op, target = TARGETS[key]
        rows.append([f"{label} (wall; cpu) — target {op} {target:g}",
                     *(f"{r['ratios'][key]:.2f}; {r['ratios']['cpu_' + key]:.2f}" for r in results)])  # fmt: skip
    rows.append(
        ["peak memory GB — target <= 2", *(f"{r['ratios']['peak_rss_gb']:.2f}" for r in results)]
    )
    rows.append(
        ["no-change run s — target <= 10", *(f"{r['ratios']['rerun_s']:.2f}" for r in results)]
    )
    rows.append(["whole run / contract floor (wall; cpu)",
                 *(f"{r['ratios']['run_vs_floor']:.2f}; {r['ratios']['cpu_run_vs_floor']:.2f}"
                   if "run_vs_floor" in r["ratios"] else "" for r in results)])  # fmt: skip
    rows.append(["marts identical to the references",
                 *("yes" if r["agreement"]["ok"] else "**no** (see below)" for r in results)])  # fmt: skip
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--scale", type=int, help=f"épreuve rows, about (default {DEFAULT_SCALE:,}; "
                    f"{SMOKE_SCALE:,} with --smoke)")  # fmt: skip
    ap.add_argument("--sessions", help="comma list within 2020–2031 (default 2020–2029)")
    ap.add_argument("--seed", type=int, default=20250704)
    ap.add_argument("--smoke", action="store_true", help="quick check, results not kept")
    ap.add_argument("--work", type=Path, default=HERE / "data", help="data folder (gitignored)")
    ap.add_argument("--results", type=Path, default=HERE / "results")
    ap.add_argument("--no-chart", action="store_true")
    ap.add_argument("--ref", help="benchmark this git revision (e.g. HEAD) from a snapshot "
                    "instead of the working tree")  # fmt: skip
    ap.add_argument("--code", type=Path, help="benchmark this code tree (a copy of the repo) "
                    "instead of the working tree")  # fmt: skip
    ap.add_argument("--tag", default="", help="suffix of the results files (e.g. a fix's name)")
    ap.add_argument("--markdown", nargs="+", type=Path, metavar="JSON",
                    help="print a markdown table of these result files and exit")  # fmt: skip
    args = ap.parse_args(argv)
    if args.markdown:
        print(markdown([json.loads(p.read_text()) for p in args.markdown]))
        return 0

    code_root = sha = None
    if args.code:  # e.g. a patched copy of a snapshot, to measure a proposed fix
        code_root = args.code.resolve()
        sys.path.insert(0, str(code_root / "src"))
        log(f"benchmarking the code tree {code_root}")
    elif args.ref:
        code_root, sha = snapshot(args.ref, args.work)
        sys.path.insert(0, str(code_root / "src"))  # the snapshot's generator too
        log(f"benchmarking {args.ref} = {sha[:12]} from {code_root}")

    if args.scale is None:
        args.scale = SMOKE_SCALE if args.smoke else DEFAULT_SCALE
    if args.sessions:
        sessions = [int(s) for s in args.sessions.split(",")]
    else:
        sessions = SMOKE_SESSIONS if args.smoke else DEFAULT_SESSIONS
    base = (args.work / "smoke") if args.smoke else (args.work / f"scale-{args.scale}")
    data = generate(base / "raw", args.scale, sessions, args.seed)
    count_rows(sorted((base / "raw").glob("*.csv")))  # warm the page cache for everyone

    logs = base / "logs" / (args.tag or "main")  # kept per tag: compare a fix with the base
    for d in (base / "warehouse", base / "extracts", base / "out", logs):  # cold state
        shutil.rmtree(d, ignore_errors=True)
    env = child_env(base, code_root)
    import duckdb
    import pandas

    r: dict = {
        "date": dt.date.today().isoformat(),
        "scale": args.scale,
        "smoke": args.smoke,
        "data": data,
        "machine": {
            "cores": os.cpu_count(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "pandas": pandas.__version__,
            "platform": platform.platform(),
        },  # fmt: skip
        "code": code_version(code_root, sha),
        "load_average": {"before": round(os.getloadavg()[0], 2)},
        "stages": {},
    }
    failed = False
    for stage in STAGES:
        r["stages"][stage] = m = timed(stage, exams_cmd(stage), env, logs / f"{stage}.log")
        if m["rc"] != 0:
            failed = True
            break
    if not failed:
        stages = r["stages"].values()
        r["whole_run"] = {
            "wall_s": round(sum(m["wall_s"] for m in stages), 3),
            "cpu_s": round(sum(m["cpu_s"] for m in stages), 3),
            "peak_rss_mb": max(m["peak_rss_mb"] for m in stages),
        }
        r["rerun"] = m = timed("no-change", exams_cmd("run"), env, logs / "rerun.log")
        text = Path(m["log"]).read_text(errors="replace")
        m["detected_no_change"] = "no new or changed export" in text
        if not m["detected_no_change"]:
            log("the second `exams run` did not detect that nothing changed")
        failed |= m["rc"] != 0
    py = [sys.executable]
    r["raw_duckdb"] = timed("raw DuckDB", py + [str(HERE / "raw_duckdb.py"), "--raw-dir",
                            str(base / "raw"), "--out", str(base / "out" / "raw_duckdb")],
                            env, logs / "raw_duckdb.log")  # fmt: skip
    r["pandas"] = timed("pandas", py + [str(HERE / "pandas_ref.py"), "--raw-dir",
                        str(base / "raw"), "--out", str(base / "out" / "pandas")],
                        env, logs / "pandas.log")  # fmt: skip
    r["csv_load"] = timed("DuckDB CSV load", py + [str(HERE / "csv_load.py"), "--raw-dir",
                          str(base / "raw"), "--db", str(base / "out" / "csv_load.duckdb")],
                          env, logs / "csv_load.log")  # fmt: skip
    (base / "out" / "csv_load.duckdb").unlink(missing_ok=True)
    floor_db = base / "out" / "contract_floor.duckdb"
    r["contract_floor"] = timed("contract floor", py + [str(HERE / "contract_floor.py"),
                                "--raw-dir", str(base / "raw"), "--db", str(floor_db),
                                "--out", str(base / "out" / "contract_floor")],
                                env, logs / "contract_floor.log")  # fmt: skip
    references = ("raw_duckdb", "pandas", "csv_load", "contract_floor")
    failed |= any(r[name]["rc"] != 0 for name in references)
    if failed:
        log("a process failed: no comparison")
        return 2

    r["load_average"]["after"] = round(os.getloadavg()[0], 2)
    marts = load_marts(base)
    raw = load_parquet(base / "out" / "raw_duckdb")
    pdf = load_parquet(base / "out" / "pandas")
    floor = load_parquet(base / "out" / "contract_floor")
    problems = (
        compare(marts, raw, "pipeline vs raw DuckDB")
        + compare(marts, pdf, "pipeline vs pandas")
        + compare(marts, floor, "pipeline vs contract floor")
        + compare_published(base, floor_db)
    )
    floor_db.unlink(missing_ok=True)
    r["agreement"] = {
        "ok": not problems,
        "problems": problems,
        "pass_rates_rows": len(marts["pass_rates"]),
        "block_capitalisation_rows": len(marts["block_capitalisation"]),
        "candidates_registered": int(marts["pass_rates"]["registered"].sum()),
        "candidates_incomplete": int(marts["pass_rates"]["incomplete"].sum()),
        "pipeline_quarantined_rows": marts["quarantine"],
        "tolerance": TOLERANCE,
    }
    r["ratios"] = ratios(r)
    r["targets"] = {k: f"{op} {v:g}" for k, (op, v) in TARGETS.items()}

    out_dir = (base / "results") if args.smoke else args.results
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"{r['date']}-{args.scale}{'-' + args.tag if args.tag else ''}"
    stem.with_suffix(".json").write_text(json.dumps(r, indent=2, ensure_ascii=False) + "\n")
    if not args.no_chart:
        from chart import render

        r["chart"] = [str(p) for p in render(r, stem)]
        stem.with_suffix(".json").write_text(json.dumps(r, indent=2, ensure_ascii=False) + "\n")
    print(table(r))
    print(f"\nresults: {stem.with_suffix('.json')}")
    for p in problems:
        print("DISAGREEMENT:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
