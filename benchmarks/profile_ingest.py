"""Where the ingest's time goes: every SQL statement of `exams ingest`, timed and grouped.

    python benchmarks/profile_ingest.py --scale 20000000    # the bench's generated exports
    python benchmarks/profile_ingest.py --raw data/raw      # any raw folder

Runs the ingest in this process, from a fresh scratch build database (under
benchmarks/data/profile/), with every statement of its DuckDB connection timed. Statements are
grouped by their first 90 characters (temporary table numbers folded), and the groups printed
slowest first with their count and share of the ingest's wall time. The scale's exports must
exist: `make bench SCALE=N` generates them. Nothing is asserted; the state is removed after.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
sys.path.insert(0, str(HERE))

from bench_common import pipeline_env  # noqa: E402


class TimedConnection:
    """A DuckDB connection whose `execute` adds its wall time to `totals[statement]`."""

    def __init__(self, con: Any, totals: dict[str, list[float]]) -> None:
        self._con = con
        self._totals = totals

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> TimedConnection:
        start = time.perf_counter()
        self._con.execute(sql, *args, **kwargs)
        entry = self._totals[statement_group(sql)]
        entry[0] += 1
        entry[1] += time.perf_counter() - start
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def statement_group(sql: str) -> str:
    text = re.sub(r"\s+", " ", sql.strip())
    return re.sub(r"batch_part_\d+", "batch_part_N", text)[:90]


def profile(raw: Path, work: Path) -> tuple[float, dict[str, list[float]]]:
    """Ingest `raw` into a fresh warehouse under `work`; returns (wall time, statement groups)."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    os.environ.update(pipeline_env(raw, work / "results.duckdb", work / "extracts"))
    import exams.ingest.load as load
    from exams.pipeline import ingest
    from exams.settings import load as settings

    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    connect = load.connect
    load.connect = lambda *a, **k: TimedConnection(connect(*a, **k), totals)
    start = time.perf_counter()
    try:
        ingest(settings())
    finally:
        load.connect = connect
    return time.perf_counter() - start, dict(totals)


def report(wall: float, totals: dict[str, list[float]], top: int) -> str:
    lines = [f"{'seconds':>8} {'share':>6} {'count':>6}  statement"]
    ranked = sorted(totals.items(), key=lambda kv: -kv[1][1])
    for sql, (count, seconds) in ranked[:top]:
        lines.append(f"{seconds:8.2f} {seconds / wall:6.1%} {count:6d}  {sql}")
    timed = sum(seconds for _, seconds in totals.values())
    lines.append(f"{timed:8.2f} {timed / wall:6.1%} {'':6}  all statements")
    lines.append(f"{wall:8.2f} {1:6.1%} {'':6}  ingest (wall)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--scale", type=int, help="the bench's exports at this scale")
    source.add_argument("--raw", type=Path, help="a raw folder")
    parser.add_argument("--top", type=int, default=15, help="statement groups printed")
    args = parser.parse_args(argv)
    raw = args.raw if args.raw else DATA / f"scale-{args.scale}" / "raw"
    if not raw.is_dir():
        print(f"{raw}: no such folder (make bench SCALE={args.scale} generates it)",
              file=sys.stderr)  # fmt: skip
        return 2
    work = DATA / "profile"
    try:
        wall, totals = profile(raw, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(report(wall, totals, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
