"""benchmarks/profile_ingest.py on the committed sample: every statement of the ingest is timed
and grouped (timings are printed, never asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_profile_ingest_times_the_ingest_statements() -> None:
    proc = subprocess.run(
        [sys.executable, "benchmarks/profile_ingest.py", "--raw", "data/raw", "--top", "50"],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = {line[24:]: line[:24].split() for line in proc.stdout.splitlines()[1:]}
    # the checked store of the rows and the keyed hashes are among the timed statements
    assert any(sql.startswith("INSERT INTO raw.export_rows") for sql in rows)
    assert any(sql.startswith("INSERT INTO raw.candidate_keys") for sql in rows)
    timed = float(rows["all statements"][0])
    wall = float(rows["ingest (wall)"][0])
    assert 0 < timed <= wall
    # each file of the sample is recorded by one statement; batch numbers are folded
    files = [p for p in (REPO / "data/raw").iterdir() if p.is_file() and p.name[0] != "."]
    record = next(v for sql, v in rows.items() if sql.startswith("INSERT INTO ingest.files"))
    assert int(record[2]) == len(files)
    assert not any(re.search(r"batch_part_\d", sql) for sql in rows)
    assert not (REPO / "benchmarks/data/profile").exists()  # the scratch state is removed


def test_profile_ingest_names_a_missing_scale() -> None:
    proc = subprocess.run(
        [sys.executable, "benchmarks/profile_ingest.py", "--scale", "7"],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "scale-7/raw: no such folder (make bench SCALE=7 generates it)" in proc.stderr
