"""A folder that cannot be written, a disk that fills up: one clear line on stderr (no
traceback), a non-zero exit status, nothing left behind (candidate file, write-ahead logs,
transcoded copies of exports), and the next run, the disk repaired, publishes.

How the failures are made, portably and as any user (root ignores permissions, and mounting a
small or read-only filesystem needs privileges CI may not have): a setting pointing under a
regular file (ENOTDIR), and a full disk as the process sees it with a file-size limit
(RLIMIT_FSIZE: a write past it fails with EFBIG, as one fails with ENOSPC on a full disk; Python
ignores SIGXFSZ). A real full tmpfs (ENOSPC) and a read-only one (EROFS) give the same lines;
they were checked by hand where `mount` was allowed (see the branch's report).
"""

from __future__ import annotations

import resource
import shutil
import subprocess
from pathlib import Path

import duckdb
from helpers import assert_accounting, write_clean
from pipeline_support import EXAMS, REPO_ROOT, SAMPLE_DIR, pipeline_env, run_exams

from exams.generator import DIALECTS

IO_ERROR = 74


def _exams_limited(args: list[str], env: dict[str, str], max_file_bytes: int):
    """A real `exams` process that may write no file larger than `max_file_bytes`."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

    return subprocess.run([str(EXAMS), *args], env=env, cwd=REPO_ROOT, capture_output=True,
                          text=True, preexec_fn=limit)  # fmt: skip


def _one_line(proc, *words: str) -> str:
    assert proc.returncode == IO_ERROR, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("exams: error: ")]
    assert len(errors) == 1 and errors[0] == proc.stderr.strip().splitlines()[-1], proc.stderr
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


def _nothing_left(warehouse: Path, state: Path) -> None:
    if warehouse.parent.is_dir():
        assert [p.name for p in warehouse.parent.iterdir()
                if p.name.startswith(warehouse.name + ".")] == []  # fmt: skip
    work = state / f"{warehouse.stem}.work" / "ingest"
    assert not work.exists() or list(work.iterdir()) == []
    lock = state / f"{warehouse.stem}.run.lock"
    assert not lock.exists() or lock.read_text() == ""


def test_a_state_folder_that_cannot_be_made_stops_in_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    env = pipeline_env(SAMPLE_DIR, tmp_path / "wh" / "results.duckdb")
    env["EXAMS_STATE_DIR"] = str(blocker / "state")
    for command in ("run", "ingest", "extracts"):
        proc = run_exams(command, env=env, check=False)
        _one_line(proc, "Not a directory", str(blocker / "state"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]
    assert blocker.read_text() == "not a folder"


def test_a_warehouse_folder_that_cannot_be_made_stops_in_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    warehouse = blocker / "wh" / "results.duckdb"
    state = tmp_path / "state"
    env = pipeline_env(SAMPLE_DIR, warehouse, tmp_path / "extracts")
    env["EXAMS_STATE_DIR"] = str(state)
    proc = run_exams("run", env=env, check=False)
    _one_line(proc, "Not a directory", "results.duckdb.new")
    _nothing_left(warehouse, state)
    assert not (tmp_path / "extracts").exists()


def test_a_disk_full_while_rows_are_stored_stops_in_one_line_and_is_repaired(
    tmp_path: Path,
) -> None:
    """The build database cannot grow past 1 MiB: DuckDB fails to commit (its own exception,
    not an OSError). The private build database may keep its write-ahead log: DuckDB replays
    what was committed the next time (the next night's counts show it)."""
    warehouse = tmp_path / "wh" / "results.duckdb"
    env = pipeline_env(SAMPLE_DIR, warehouse, tmp_path / "extracts")
    proc = _exams_limited(["run"], env, 2**20)
    _one_line(proc, "Could not write file", "results.build.duckdb", "File too large",
              "a file outgrew the size allowed")  # fmt: skip
    state = warehouse.parent / ".private"
    _nothing_left(warehouse, state)
    assert not warehouse.exists()
    # room again: the next night stores every file
    run_exams("ingest", env=env)
    con = duckdb.connect(str(state / "results.build.duckdb"), read_only=True)
    try:
        assert_accounting(con)
        assert con.execute("SELECT count(*) FROM raw.file_manifest").fetchone()[0] == len(
            list(SAMPLE_DIR.iterdir())
        )
    finally:
        con.close()


def test_a_disk_full_while_an_export_is_transcoded_leaves_no_copy(tmp_path: Path) -> None:
    """A Windows-1252 export is read through a UTF-8 copy in the private work folder: the copy
    cannot be written whole. The run stops (the export is not the one at fault: it is not
    rejected) and the partial copy is removed."""
    raw = tmp_path / "raw"
    path = write_clean(raw, 2025, "10", n=2500, dialect=DIALECTS[2])
    size = path.stat().st_size
    warehouse = tmp_path / "wh" / "results.duckdb"
    env = pipeline_env(raw, warehouse, tmp_path / "extracts")
    proc = _exams_limited(["ingest"], env, size // 2)
    line = _one_line(proc, "File too large", "a file outgrew the size allowed")
    assert "Could not write file" not in line  # Python's write of the copy, not DuckDB's
    state = warehouse.parent / ".private"
    _nothing_left(warehouse, state)
    assert not list(state.rglob("*.utf8.csv"))
    assert "REJECTED" not in proc.stderr
    run_exams("ingest", env=env)
    con = duckdb.connect(str(state / "results.build.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT status, rows_quarantined FROM raw.file_manifest").fetchone() \
            == ("LOADED", 0)  # fmt: skip
        assert_accounting(con)
    finally:
        con.close()


def test_an_existing_state_folder_is_never_chmodded_but_warned_about(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o755)
    raw = tmp_path / "raw"
    shutil.copytree(SAMPLE_DIR, raw)
    env = pipeline_env(raw, tmp_path / "wh" / "results.duckdb")
    env["EXAMS_STATE_DIR"] = str(state)
    proc = run_exams("ingest", env=env)
    assert f"the private state folder {state} is readable by other users (mode 755)" in proc.stderr
    assert state.stat().st_mode & 0o777 == 0o755
    # a folder the run makes itself is private
    fresh = tmp_path / "fresh_state"
    env["EXAMS_STATE_DIR"] = str(fresh)
    proc = run_exams("ingest", env=env)
    assert fresh.stat().st_mode & 0o777 == 0o700 and "readable by other users" not in proc.stderr
