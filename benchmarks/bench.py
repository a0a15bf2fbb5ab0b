"""The nightly pipeline against references computing the same marts from the same exports.

    python benchmarks/bench.py [--scale 2000000] [--ref REV | --code DIR]
    python benchmarks/bench.py --smoke                     # 20 k rows, results under data/smoke/
    python benchmarks/bench.py --markdown results/*.json   # the results' table, one column each

1. Generates clean exports (no correction, duplicate or misnamed file; UTF-8, `;`, decimal comma)
   with the working tree's generator into data/scale-<N>/raw/, reused while the settings and the
   generator are the same, and reads them once so that every contender finds them in the page
   cache.
2. Times, from a cold state (fresh warehouse folder), each stage as its own process
   (`python -m exams.cli ingest|transform|check|publish|extracts`, EXAMS_MODE=test), then
   `exams run` again with no new export (the published file must stay untouched), then the
   references: raw_duckdb.py (rates only), pandas_ref.py, csv_load.py (DuckDB loading the files)
   and contract_floor.py (the whole contract, hand-written). Each process: wall time, CPU time
   (user + sys) and peak RSS, from os.wait4 (through _spawn.py).
3. Compares the pipeline's marts with the references' on the tables and columns both have
   (EXCEPT ALL both ways, DOUBLE columns to 1e-9).
4. Writes <results>/<scale>.json and <scale>.png, a copy of the JSON as
   data/runs/<scale>-<code>.json (two commits measured in one sitting, side by side with
   --markdown), and prints the table.

--ref REV benchmarks a git revision from a snapshot (git archive) in data/code-<sha>/; --code
DIR a copy of the repository. Exit status: 0 all agree, 1 a disagreement, 2 a process failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import (  # noqa: E402
    CONTENDERS,
    CONTRACT_MARTS,
    DATA_DIR,
    DEFAULT_SCALE,
    HERE,
    RATIOS,
    REFERENCE_MARTS,
    REPO_ROOT,
    RESULTS_DIR,
    SEED,
    SESSIONS,
    SMOKE_SCALE,
    SMOKE_SESSIONS,
    STAGES,
    measure,
    pipeline_env,
    ratios,
)

log = logging.getLogger("bench")
ROWS_PER_CANDIDATE = 7.145  # 7 mandatory épreuves + EF1 for ~15 % of those with a grade

# ---- data -------------------------------------------------------------------------------------


def generate(raw: Path, scale: int, sessions: list[int]) -> dict:
    """Clean UTF-8 exports of about `scale` épreuve rows; reused if already there."""
    import exams.generator
    from exams.generator import Dialect, GeneratorConfig, academies_for, generate

    academies = academies_for(max(sessions))
    n_files = len(sessions) * len(academies)
    per_file = max(5, round(scale / ROWS_PER_CANDIDATE / n_files))
    wanted = {
        "scale": scale, "sessions": sessions, "academies": academies,
        "candidates_per_file": per_file, "seed": SEED, "dialect": "utf-8 ; decimal-comma LF",
        "generator_sha256": hashlib.sha256(Path(exams.generator.__file__).read_bytes()).hexdigest(),
    }  # fmt: skip
    marker = raw.parent / "generated.json"
    if marker.exists() and raw.is_dir():
        done = json.loads(marker.read_text())
        if {k: done.get(k) for k in wanted} == wanted:
            log.info("reusing %s export(s), %s rows in %s", done["files"], done["rows"], raw)
            return done
    shutil.rmtree(raw, ignore_errors=True)
    log.info("generating %s export(s) × ~%s candidates into %s", n_files, per_file, raw)
    cfg = GeneratorConfig(
        sessions=sessions, academies=academies, candidates_per_file=per_file, seed=SEED,
        extras=False, dialects=[Dialect("utf-8", ";", ",", "\n")],
    )  # fmt: skip
    paths = generate(raw, cfg)
    rows, size = read_all(paths)
    done = {**wanted, "files": len(paths), "rows": rows, "bytes": size}
    marker.write_text(json.dumps(done, indent=2))
    return done


def read_all(paths: list[Path]) -> tuple[int, int]:
    """Data rows and bytes; reading every file also puts it in the page cache."""
    rows = size = 0
    for p in paths:
        with open(p, "rb") as f:
            while chunk := f.read(1 << 22):
                rows += chunk.count(b"\n")
                size += len(chunk)
        rows -= 1  # header
    return rows, size


# ---- the code under test ----------------------------------------------------------------------


def git(*args: str) -> str:
    cmd = ["git", "-C", str(REPO_ROOT), *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def snapshot(ref: str, work: Path) -> tuple[Path, str]:
    """`git archive` of a revision under the data folder: a fixed version while the working
    tree moves. Returns (root, commit)."""
    sha = git("rev-parse", "--verify", f"{ref}^{{commit}}")
    dest = work / f"code-{sha[:12]}"
    if not (dest / ".complete").exists():
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(REPO_ROOT), "archive", sha], check=True,
                                 capture_output=True).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
        (dest / ".complete").touch()
    return dest, sha


def code_version(code_root: Path | None, sha: str | None) -> dict:
    """Which code is measured; `id` names the run's logs and its copy in data/runs/."""
    if sha:
        return {"source": "snapshot", "commit": sha, "id": sha[:7], "root": str(code_root)}
    if code_root:
        return {"source": "code tree", "commit": None, "id": code_root.name, "root": str(code_root)}
    head = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--", "src", "dbt_project", "expectations"))
    return {"source": "working tree", "commit": head, "dirty": dirty,
            "id": head[:7] + ("-dirty" if dirty else ""), "root": str(REPO_ROOT)}  # fmt: skip


def child_env(base: Path, code_root: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXAMS_")}
    if code_root is not None:  # the snapshot's package, dbt project, suites and seeds
        env["PYTHONPATH"] = str(code_root / "src")
        env["BENCH_SEEDS_DIR"] = str(code_root / "dbt_project" / "seeds")
    env.update(pipeline_env(base / "raw", base / "warehouse" / "results.duckdb", base / "extracts"))
    return env


def exams(*args: str) -> list[str]:
    """The pipeline's command line. `python -m exams.cli`, not the venv's `exams` script: the
    script's entry point is the working tree's, a snapshot's package may name it otherwise."""
    return [sys.executable, "-m", "exams.cli", *args]


# ---- timed processes --------------------------------------------------------------------------


def timed(name: str, cmd: list[str], env: dict[str, str], logfile: Path) -> dict:
    """Run one process through _spawn.py: its wall time, user and sys time and peak RSS."""
    r, w = os.pipe()
    with open(logfile, "wb") as out:
        spawn = [sys.executable, "-S", str(HERE / "_spawn.py"), str(w), *cmd]
        proc = subprocess.Popen(spawn, env=env, stdout=out, stderr=subprocess.STDOUT,
                                cwd=REPO_ROOT, pass_fds=(w,))  # fmt: skip
        os.close(w)
        with os.fdopen(r, "rb") as pipe:
            report = pipe.read()
        proc.wait()
    ru = json.loads(report) if report else {"wall_s": 0, "user_s": 0, "sys_s": 0,
                                            "maxrss_kib": 0, "rc": proc.returncode or 1}  # fmt: skip
    m = {
        "wall_s": round(ru["wall_s"], 3),
        "user_s": round(ru["user_s"], 3),
        "sys_s": round(ru["sys_s"], 3),
        "cpu_s": round(ru["user_s"] + ru["sys_s"], 3),
        "peak_rss_mb": round(ru["maxrss_kib"] / 1024, 1),  # Linux: KiB
        "rc": ru["rc"],
        "log": str(logfile),
    }
    log.info("%-15s %8.2f s wall %8.2f s cpu %7.0f MB  rc=%s", name, m["wall_s"], m["cpu_s"],
             m["peak_rss_mb"], m["rc"])  # fmt: skip
    if m["rc"] != 0:
        tail = logfile.read_text(errors="replace").splitlines()[-25:]
        log.error("%s failed; last lines of %s:\n  %s", name, logfile, "\n  ".join(tail))
    return m


def run_pipeline(base: Path, env: dict[str, str], logs: Path) -> dict | None:
    """Each stage as its own process, then a no-change `exams run`; None if one failed."""
    out: dict = {"stages": {}}
    for stage in STAGES:
        m = out["stages"][stage] = timed(stage, exams(stage), env, logs / f"{stage}.log")
        if m["rc"] != 0:
            return None
    stages = out["stages"].values()
    out["whole_run"] = {
        "wall_s": round(sum(m["wall_s"] for m in stages), 3),
        "cpu_s": round(sum(m["cpu_s"] for m in stages), 3),
        "peak_rss_mb": max(m["peak_rss_mb"] for m in stages),
    }
    published = base / "warehouse" / "results.duckdb"
    before = published.stat()
    m = out["rerun"] = timed("no-change run", exams("run"), env, logs / "rerun.log")
    after = published.stat()
    m["detected_no_change"] = (before.st_ino, before.st_mtime_ns) == (
        after.st_ino,
        after.st_mtime_ns,
    )
    if not m["detected_no_change"]:
        log.warning("the no-change `exams run` published the warehouse again")
    return out if m["rc"] == 0 else None


def run_references(base: Path, env: dict[str, str], logs: Path) -> dict | None:
    raw, out = str(base / "raw"), base / "out"
    scripts = {
        "raw_duckdb": ["raw_duckdb.py", "--raw-dir", raw, "--out", str(out / "raw_duckdb")],
        "pandas": ["pandas_ref.py", "--raw-dir", raw, "--out", str(out / "pandas")],
        "csv_load": ["csv_load.py", "--raw-dir", raw, "--db", str(out / "csv_load.duckdb")],
        "contract_floor": ["contract_floor.py", "--raw-dir", raw,
                           "--db", str(out / "contract_floor.duckdb")],
    }  # fmt: skip
    measures = {}
    for name, (script, *args) in scripts.items():
        cmd = [sys.executable, str(HERE / script), *args]
        measures[name] = timed(CONTENDERS[name], cmd, env, logs / f"{name}.log")
        if measures[name]["rc"] != 0:
            return None
    (out / "csv_load.duckdb").unlink()  # as large as the rows; nothing reads it
    return measures


# ---- agreement --------------------------------------------------------------------------------


def columns(con, relation: str) -> dict[str, str]:  # noqa: ANN001 (a DuckDB connection)
    described = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    return {name: kind for name, kind, *_ in described}


def differences(con, label: str, left: str, right: str) -> list[str]:  # noqa: ANN001
    """Rows of `left` not in `right` and the reverse (EXCEPT ALL) on the columns both have;
    DOUBLE columns compared to 1e-9 (as DECIMAL(38, 9)). A column one side added (the contract
    lets marts gain columns) is not compared."""
    lcols, rcols = columns(con, left), columns(con, right)
    common = [c for c in lcols if c in rcols]
    if not common:
        return [f"{label}: no column in common"]
    select = ", ".join(
        f"CAST({c} AS DECIMAL(38, 9)) AS {c}" if {"DOUBLE", "FLOAT"} & {lcols[c], rcols[c]} else c
        for c in common
    )
    problems = []
    for a, b in ((left, right), (right, left)):
        diff = f"SELECT {select} FROM {a} EXCEPT ALL SELECT {select} FROM {b}"
        n = con.execute(f"SELECT count(*) FROM ({diff})").fetchone()[0]
        if n:
            sample = con.execute(f"{diff} LIMIT 2").fetchall()
            problems.append(f"{label}: {n} row(s) of {a} not in {b}, e.g. {sample}")
    return problems


def agreement(warehouse: Path, out: Path) -> dict:
    """The pipeline's marts against raw DuckDB's and pandas' (pass_rates, block_capitalisation)
    and the contract floor's (every mart both have)."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"ATTACH '{warehouse}' AS pipeline (READ_ONLY)")
    con.execute(f"ATTACH '{out / 'contract_floor.duckdb'}' AS floor (READ_ONLY)")
    problems, compared, not_compared = [], [], []
    for ref in ("raw_duckdb", "pandas"):
        for table in REFERENCE_MARTS:
            parquet = f"read_parquet('{out / ref / table}.parquet')"
            problems += differences(con, f"pipeline vs {ref}", f"pipeline.marts.{table}", parquet)
            compared.append(f"{ref}: {table}")
    for table in CONTRACT_MARTS:
        try:
            problems += differences(con, "pipeline vs contract floor", f"pipeline.marts.{table}",
                                    f"floor.main.{table}")  # fmt: skip
            compared.append(f"contract_floor: {table}")
        except duckdb.CatalogException:  # a mart the pipeline (or an older commit) lacks
            not_compared.append(table)
    registered, incomplete = con.execute(
        "SELECT sum(registered), sum(incomplete) FROM pipeline.marts.pass_rates"
    ).fetchone()
    quarantined = con.execute(
        "SELECT reason_code, count(*) FROM pipeline.audit.quarantine GROUP BY 1 ORDER BY 1"
    ).fetchall()
    con.close()
    return {
        "ok": not problems,
        "problems": problems,
        "compared": compared,
        "not_compared": not_compared,
        "candidates_registered": int(registered),
        "candidates_incomplete": int(incomplete),
        # clean generated data: a quarantined row is a pipeline/generator disagreement
        "pipeline_quarantined_rows": dict(quarantined),
    }


# ---- report -----------------------------------------------------------------------------------


def markdown(results: list[dict]) -> str:
    """One markdown table, a column per result (sorted by scale): every process as wall / CPU /
    peak RSS, then the ratios as wall; CPU, the headline first."""

    def cell(m: dict) -> str:
        return f"{m['wall_s']:.1f} s / {m['cpu_s']:.1f} s / {m['peak_rss_mb']:.0f} MB"

    results = sorted(results, key=lambda r: r["scale"])
    rows = [
        ["", *(f"{r['data']['rows']:,} rows" for r in results)],
        ["code, date", *(f"`{(r['code'].get('commit') or r['code'].get('id', '?'))[:7]}`"
                         f"{' (dirty)' if r['code'].get('dirty') else ''}, {r['date']}"
                         for r in results)],  # fmt: skip
        ["load average before / after",
         *(f"{r['load_average']['before']} / {r['load_average']['after']}" for r in results)],
    ]  # fmt: skip
    for name, label in [*((s, f"`{s}` (wall / CPU / peak)") for s in STAGES), *CONTENDERS.items()]:
        rows.append([label, *(cell(measure(r, name)) for r in results)])
    for i, (key, label, _, _) in enumerate(RATIOS):
        values = [ratios(r) for r in results]
        text = [f"{q[key]:.2f}; {q['cpu_' + key]:.2f}" for q in values]
        rows.append([f"**{label}** (wall; CPU)", *(f"**{t}**" for t in text)] if i == 0
                    else [f"{label} (wall; CPU)", *text])  # fmt: skip
    rows += [
        ["peak memory, GB (largest stage)", *(f"{ratios(r)['peak_rss_gb']:.2f}" for r in results)],
        ["no-change run left the publication alone",
         *("yes" if r["rerun"].get("detected_no_change") else "**no**" for r in results)],
        ["marts identical to the references",
         *("yes" if r["agreement"]["ok"] else "**no**" for r in results)],
    ]  # fmt: skip
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join([lines[0], "|---" * len(rows[0]) + "|", *lines[1:]])


def write_results(r: dict, results_dir: Path, runs_dir: Path) -> Path:
    """<results_dir>/<scale>.json and .png, and the JSON again as <runs_dir>/<scale>-<code>.json."""
    from chart import render

    text = json.dumps(r, indent=2, ensure_ascii=False) + "\n"
    for folder in (results_dir, runs_dir):
        folder.mkdir(parents=True, exist_ok=True)
    (runs_dir / f"{r['scale']}-{r['code']['id']}.json").write_text(text)
    path = results_dir / f"{r['scale']}.json"
    path.write_text(text)
    render(r, path.with_suffix(".png"))
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 1)[1])  # fmt: skip
    ap.add_argument("--scale", type=int, help=f"épreuve rows, about (default {DEFAULT_SCALE}; "
                    f"{SMOKE_SCALE} with --smoke)")  # fmt: skip
    ap.add_argument("--smoke", action="store_true", help="a quick check of agreement (2 sessions)")
    code = ap.add_mutually_exclusive_group()
    code.add_argument("--ref", help="benchmark this git revision (from a snapshot)")
    code.add_argument("--code", type=Path, help="benchmark this copy of the repository")
    ap.add_argument("--work", type=Path, default=DATA_DIR, help="data folder (default %(default)s)")
    ap.add_argument("--results", type=Path, default=RESULTS_DIR,
                    help="where <scale>.json and .png go (--smoke: <work>/smoke/results)")  # fmt: skip
    ap.add_argument("--markdown", nargs="+", type=Path, metavar="JSON",
                    help="print the table of these result files and exit")  # fmt: skip
    args = ap.parse_args(argv)
    if args.markdown:
        print(markdown([json.loads(p.read_text()) for p in args.markdown]))
        return 0
    logging.basicConfig(format="[bench %(asctime)s] %(message)s", datefmt="%H:%M:%S")
    log.setLevel(logging.INFO)

    code_root, sha = None, None
    if args.ref:
        code_root, sha = snapshot(args.ref, args.work)
    elif args.code:
        code_root = args.code.resolve()
    version = code_version(code_root, sha)
    log.info("benchmarking %s (%s)", version["id"], version["root"])
    scale = args.scale or (SMOKE_SCALE if args.smoke else DEFAULT_SCALE)
    base = args.work / ("smoke" if args.smoke else f"scale-{scale}")
    data = generate(base / "raw", scale, SMOKE_SESSIONS if args.smoke else SESSIONS)
    read_all(sorted((base / "raw").glob("*.csv")))  # into the page cache, for everyone

    logs = base / "logs" / version["id"]
    for d in (base / "warehouse", base / "extracts", base / "out", logs):  # cold state
        shutil.rmtree(d, ignore_errors=True)
    logs.mkdir(parents=True)
    (base / "out").mkdir()
    env = child_env(base, code_root)
    import duckdb
    import pandas

    r: dict = {
        "date": dt.date.today().isoformat(),
        "scale": scale,
        "smoke": args.smoke,
        "data": data,
        "code": version,
        "machine": {
            "cores": os.cpu_count(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "pandas": pandas.__version__,
            "platform": platform.platform(),
        },
        "load_average": {"before": round(os.getloadavg()[0], 2)},
    }
    pipeline = run_pipeline(base, env, logs)
    references = run_references(base, env, logs) if pipeline else None
    if pipeline is None or references is None:
        log.error("a process failed: no comparison (logs in %s)", logs)
        return 2
    r["load_average"]["after"] = round(os.getloadavg()[0], 2)
    r.update(pipeline, **references)
    r["agreement"] = agreement(base / "warehouse" / "results.duckdb", base / "out")
    r["ratios"] = ratios(r)
    results_dir = (base / "results") if args.smoke else args.results
    path = write_results(r, results_dir, args.work / "runs")
    print(markdown([r]))
    print(f"\nresults: {path} and {path.with_suffix('.png')}")
    for p in r["agreement"]["problems"]:
        print("DISAGREEMENT:", p)
    return 1 if r["agreement"]["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
