"""Ministry extracts: formats with the same rows, secrecy with complementary suppression, and the
extracts folder kept exactly the publication's: verified, repaired, cleaned, crash-safe."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from pipeline_support import REPO_ROOT, SAMPLE_DIR, pipeline_env

from exams import extracts, reference
from exams import settings as settings_mod
from exams.errors import ConfigError, InvariantBroken
from exams.extracts import files, folders
from exams.extracts.secrecy import suppress
from exams.extracts.tables import ALL_ROUTES, NATIONAL, PASS_RATES, Table
from exams.settings import Settings


# ---- helpers ---------------------------------------------------------------------------------
def sessions(warehouse: Path) -> list[int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return [r[0] for r in con.execute(
            "SELECT DISTINCT session FROM marts.pass_rates ORDER BY 1").fetchall()]  # fmt: skip


def publication(warehouse: Path) -> str:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("SELECT run_id FROM audit.dq_results ORDER BY run_at DESC, run_id DESC "
                           "LIMIT 1").fetchone()[0]  # fmt: skip


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def complete(folder: Path) -> dict:
    """The manifest of a complete session folder: exactly the files it lists, each a regular file
    with its sha256 and row count (checked here independently of the module)."""
    assert folder.is_dir() and not folder.is_symlink()
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    session = manifest["session"]
    listed = {f["file"]: f for f in manifest["files"]}
    assert set(listed) == {
        f"ndrc_{session}_pass_rates.csv", f"ndrc_{session}_pass_rates.parquet",
        f"ndrc_{session}_blocks.csv", f"ndrc_{session}_blocks.parquet", f"ndrc_{session}.xlsx",
    }  # fmt: skip
    assert set(os.listdir(folder)) == {*listed, "manifest.json"}
    for name, f in listed.items():
        assert (folder / name).is_file() and not (folder / name).is_symlink()
        assert sha256(folder / name) == f["sha256"], name
        if name.endswith(".parquet"):
            assert pq.read_metadata(folder / name).num_rows == f["rows"] > 0
    return manifest


def assert_published(s: Settings) -> None:
    """The extracts folder holds exactly the published sessions, each complete, written from the
    publication with the current schema version and secrecy threshold."""
    published = sessions(s.warehouse)
    assert sorted(os.listdir(s.extracts_dir)) == sorted(str(x) for x in published)
    for session in published:
        manifest = complete(s.extracts_dir / str(session))
        assert manifest["session"] == session
        assert manifest["run_id"] == publication(s.warehouse)
        assert manifest["schema_version"] == files.SCHEMA_VERSION
        assert manifest["secrecy_threshold"] == s.secrecy_threshold


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime) of a folder and of everything under it: any rewrite changes them."""
    paths = [root, *root.rglob("*")]
    return {str(p.relative_to(root)): (p.lstat().st_ino, p.lstat().st_mtime_ns) for p in paths}


def edit(warehouse: Path, *statements: str) -> None:
    with duckdb.connect(str(warehouse)) as con:
        for statement in statements:
            con.execute(statement)


def new_publication(run_id: str) -> str:
    """A later check run's row: the file becomes another publication."""
    return (f"INSERT INTO audit.dq_results (run_id, run_at) SELECT '{run_id}', "
            "max(run_at) + INTERVAL 1 HOUR FROM audit.dq_results")  # fmt: skip


def rewritten(caplog: pytest.LogCaptureFixture) -> set[str]:
    return {m.split()[1].rstrip(":") for m in caplog.messages if ": rewriting" in m}


@pytest.fixture(scope="module")
def extracts_dir(published_warehouse: Path) -> Path:
    return published_warehouse.parent.parent / "extracts"


@pytest.fixture
def s(published_warehouse: Path, tmp_path: Path) -> Settings:
    """Settings over a copy of the published warehouse, with an extracts folder of its own."""
    warehouse = tmp_path / "warehouse" / "results.duckdb"
    warehouse.parent.mkdir()
    shutil.copyfile(published_warehouse, warehouse)
    return settings_mod.load({}, warehouse=warehouse, extracts_dir=tmp_path / "extracts",
                             raw_dir=SAMPLE_DIR)  # fmt: skip


@pytest.fixture
def caplog_info(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="exams.extracts")
    return caplog


# ---- the published extracts (written by the pipeline's run) ------------------------------------
def test_the_pipeline_published_every_session_with_a_true_manifest(
    published_warehouse: Path, extracts_dir: Path
) -> None:
    s = settings_mod.load({}, warehouse=published_warehouse, extracts_dir=extracts_dir)
    assert_published(s)


def test_every_format_holds_the_same_rows(published_warehouse: Path, extracts_dir: Path) -> None:
    for session in sessions(published_warehouse):
        folder = extracts_dir / str(session)
        workbook = load_workbook(folder / f"ndrc_{session}.xlsx")
        assert workbook.sheetnames == ["pass_rates", "blocks", "colonnes"]
        for table in ("pass_rates", "blocks"):
            csv_path = folder / f"ndrc_{session}_{table}.csv"
            raw = csv_path.read_bytes()
            assert raw.startswith(b"\xef\xbb\xbf") and b";" in raw.split(b"\n")[0]
            from_csv = pd.read_csv(csv_path, sep=";", decimal=",", encoding="utf-8-sig",
                                   dtype={"academy_code": str})  # fmt: skip
            from_parquet = pd.read_parquet(folder / f"ndrc_{session}_{table}.parquet")
            values = list(workbook[table].values)
            from_xlsx = pd.DataFrame(values[1:], columns=values[0])
            assert len(from_csv) == len(from_parquet) == len(from_xlsx) > 0
            assert list(from_csv.columns) == list(from_parquet.columns) == list(from_xlsx.columns)
            for frame in (from_csv, from_xlsx):
                for col in from_parquet.columns:
                    a, b = from_parquet[col], frame[col]
                    if pd.api.types.is_numeric_dtype(a):
                        a, b = a.astype("float64"), pd.to_numeric(b).astype("float64")
                    else:
                        a, b = a.astype(str), b.astype(str)
                    pd.testing.assert_series_equal(a, b, check_names=False)
        described = {(r[0], r[1]) for r in list(workbook["colonnes"].values)[1:] if r and r[1]}
        for table in ("pass_rates", "blocks"):
            columns = pq.read_schema(folder / f"ndrc_{session}_{table}.parquet").names
            assert {(f"ndrc_{session}_{table}", c) for c in columns} <= described


def test_parquet_types(published_warehouse: Path, extracts_dir: Path) -> None:
    session = sessions(published_warehouse)[0]
    schema = pq.read_schema(extracts_dir / str(session) / f"ndrc_{session}_blocks.parquet")
    assert {f.name: str(f.type) for f in schema} == {
        "session": "int32", "rncp_code": "string", "academy_code": "string",
        "academy_name": "string", "access_route": "string", "block_code": "string",
        "assessed": "int64", "acquired": "int64", "acquisition_rate": "double",
        "attestations_non_admitted": "int64",
    }  # fmt: skip
    assert schema.metadata is None or b"pandas" not in schema.metadata


def test_pass_rates_extract_adds_up_to_the_mart(
    published_warehouse: Path, extracts_dir: Path
) -> None:
    con = duckdb.connect(str(published_warehouse), read_only=True)
    rncp = reference.rows("ref_rncp_codes")
    for session in sessions(published_warehouse):
        df = pd.read_parquet(extracts_dir / str(session) / f"ndrc_{session}_pass_rates.parquet")
        nat = df[(df.academy_code == NATIONAL) & (df.access_route == ALL_ROUTES)].iloc[0]
        present, admitted = con.execute(
            "SELECT sum(present), sum(admitted) FROM marts.pass_rates WHERE session = ?", [session]
        ).fetchone()
        if pd.notna(nat.present):
            assert (nat.present, nat.admitted) == (present, admitted)
            assert nat.pass_rate == round(admitted / present, 4)
        assert set(df.access_route) - {ALL_ROUTES} <= set(reference.access_routes())
        assert df.rncp_code.unique().tolist() == [
            r["rncp_code"] for r in rncp
            if int(r["first_session"]) <= session <= int(r["last_session"])
        ]  # fmt: skip


def _lines_ok(df: pd.DataFrame, hidden: pd.Series, by: list[str]) -> bool:
    for keys in ([*by, "academy_code"], [*by, "access_route"]):
        for _, idx in df.groupby(keys if len(keys) > 1 else keys[0]).groups.items():
            if hidden.loc[idx].sum() == 1:
                return False
    return True


def test_secrecy_on_published_extracts(published_warehouse: Path, extracts_dir: Path) -> None:
    for session in sessions(published_warehouse):
        for table, pop, by in (
            ("pass_rates", "present", []),
            ("blocks", "assessed", ["block_code"]),
        ):
            df = pd.read_parquet(extracts_dir / str(session) / f"ndrc_{session}_{table}.parquet")
            hidden = df[pop].isna()
            assert _lines_ok(df, hidden, by)
            shown = df[~hidden]
            assert not ((shown[pop] >= 1) & (shown[pop] < 5)).any()


# ---- secrecy ---------------------------------------------------------------------------------
def _suppress_frame(df: pd.DataFrame, population: str, threshold: int, by: list[str]) -> list:
    rows = [{k: None if pd.isna(v) else v for k, v in r.items()}
            for r in df.to_dict("records")]  # fmt: skip
    return suppress(rows, population, threshold, by)


def test_complementary_suppression_picks_the_smallest_extra_row() -> None:
    df = pd.DataFrame({
        "academy_code": ["10", "10", "10", "10", "NAT", "NAT", "NAT", "NAT"],
        "access_route": ["A", "B", "C", "TOUTES", "A", "B", "C", "TOUTES"],
        "present": [3, 40, 20, 63, 3, 40, 20, 63],
    })  # fmt: skip
    hidden = _suppress_frame(df, "present", 5, [])
    # A is primary; in académie 10's line the smallest other row is C (20); the route lines
    # (A with NAT-A, C with NAT-C) then need their NAT rows too.
    assert hidden == [True, False, True, False, True, False, True, False]
    assert _lines_ok(df, pd.Series(hidden), [])


def _suppress_with_pandas(df: pd.DataFrame, population: str, threshold: int, by: list[str]):
    """The suppression as first written with pandas (the reference for the plain-Python one)."""
    mask = (df[population] >= 1) & (df[population] < threshold)
    lines = [[*by, "academy_code"], [*by, "access_route"]]
    changed = True
    while changed:
        changed = False
        for keys in lines:
            with warnings.catch_warnings():  # pandas 4 will key one-column groups by tuples
                warnings.simplefilter("ignore")
                groups = df.groupby(keys, sort=False).groups
            for _, idx in groups.items():
                line = df.loc[idx]
                hidden = mask.loc[idx]
                if hidden.sum() == 1:
                    candidates = line[~hidden]
                    if candidates.empty:
                        continue
                    positive = candidates[candidates[population] > 0]
                    pick = (positive if not positive.empty else candidates)[population].idxmin()
                    mask.loc[pick] = True
                    changed = True
    return mask


maybe = st.one_of  # readability of the row strategy below
ROWS = st.lists(
    st.tuples(
        st.sampled_from(["BC01", "BC02"]),
        maybe(st.sampled_from(["01", "02", "10", "NAT"]), st.none()),
        maybe(st.sampled_from(["A", "B", "C", "TOUTES"]), st.none()),
        maybe(st.integers(0, 12), st.none()),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(rows=ROWS, by_block=st.booleans(), threshold=st.integers(1, 6))
def test_suppression_is_the_pandas_one(rows, by_block: bool, threshold: int) -> None:
    df = pd.DataFrame(rows, columns=["block_code", "academy_code", "access_route", "present"])
    df["present"] = df["present"].astype("float64")  # as DuckDB's sums came into pandas
    by = ["block_code"] if by_block else []
    try:
        expected = _suppress_with_pandas(df, "present", threshold, by)
    except ValueError:  # a line whose only candidates have no population
        with pytest.raises(ValueError):
            _suppress_frame(df, "present", threshold, by)
        return
    assert _suppress_frame(df, "present", threshold, by) == expected.tolist()


# ---- writers ---------------------------------------------------------------------------------
TEXT = st.text(alphabet=st.sampled_from(list("aé ;\"'x,.\n")), min_size=1, max_size=6)
COUNT = maybe(st.integers(0, 10**9), st.none())
PASS_RATE_ROWS = st.lists(
    st.fixed_dictionaries({
        "session": st.sampled_from([2025, 2031]), "rncp_code": maybe(TEXT, st.none()),
        "academy_code": maybe(TEXT, st.none()), "academy_name": maybe(TEXT, st.none()),
        "access_route": maybe(TEXT, st.none()), "present": COUNT, "admitted": COUNT,
        "pass_rate": maybe(st.sampled_from([0.0, 1.0, 0.5, 0.4857, 0.0001, 1 / 3]), st.none()),
    }),
    max_size=6,
)  # fmt: skip


def _read_csv(path: Path) -> list[dict]:
    """What a CSV cell means: empty is null, integers, decimal-comma rates, text."""
    kinds = {c.name: c.type for c in PASS_RATES}
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f, delimiter=";")
        assert reader.fieldnames == list(kinds)
        return [
            {k: None if v == "" else float(v.replace(",", ".")) if str(kinds[k]) == "double"
             else int(v) if str(kinds[k]).startswith("int") else v for k, v in row.items()}
            for row in reader
        ]  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(rows=PASS_RATE_ROWS)
def test_csv_parquet_and_xlsx_hold_the_same_rows(rows: list[dict], tmp_path_factory) -> None:
    table = Table("ndrc_2031_pass_rates", "pass_rates", PASS_RATES, rows)
    tmp = tmp_path_factory.mktemp("writers")
    files.write_csv(table, tmp / "t.csv")
    files.write_parquet(table, tmp / "t.parquet")
    files.write_xlsx([table], tmp / "t.xlsx", 5)
    assert _read_csv(tmp / "t.csv") == rows
    assert pq.read_table(tmp / "t.parquet").to_pylist() == rows
    sheet = list(load_workbook(tmp / "t.xlsx")["pass_rates"].values)
    assert [dict(zip(sheet[0], r, strict=True)) for r in sheet[1:]] == rows


# ---- the folder kept exactly the publication's -----------------------------------------------
def test_a_second_run_rewrites_nothing(s: Settings, caplog_info) -> None:
    extracts.run(s)
    assert_published(s)
    before = snapshot(s.extracts_dir)
    caplog_info.clear()
    extracts.run(s)
    assert snapshot(s.extracts_dir) == before
    assert not rewritten(caplog_info)
    verified = [m for m in caplog_info.messages if ": verified" in m]
    assert len(verified) == len(sessions(s.warehouse))


def _flip_a_byte(folder: Path, outside: Path) -> None:
    path = next(folder.glob("*_pass_rates.parquet"))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _rewrite_manifest(folder: Path, **values: object) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps(manifest | values))


def _symlinked_folder(folder: Path, outside: Path) -> None:
    """The session folder is a symlink to a complete copy elsewhere: replaced, copy untouched."""
    shutil.copytree(folder, outside / folder.name)
    shutil.rmtree(folder)
    folder.symlink_to(outside / folder.name, target_is_directory=True)


def _symlinked_file(folder: Path, outside: Path) -> None:
    path = next(folder.glob("*_blocks.csv"))
    shutil.copyfile(path, outside / path.name)
    path.unlink()
    path.symlink_to(outside / path.name)


DAMAGES = {
    "tampered file": _flip_a_byte,
    "deleted file": lambda folder, outside: next(folder.glob("*_blocks.csv")).unlink(),
    "manifest of another publication": lambda folder, outside: _rewrite_manifest(
        folder, run_id="another-run"),
    "manifest of an older schema": lambda folder, outside: _rewrite_manifest(
        folder, schema_version="1.0"),
    "manifest of another threshold": lambda folder, outside: _rewrite_manifest(
        folder, secrecy_threshold=3),
    "unreadable manifest": lambda folder, outside: (folder / "manifest.json").write_text("{"),
    "deleted manifest": lambda folder, outside: (folder / "manifest.json").unlink(),
    "extra file": lambda folder, outside: (folder / "notes.txt").write_text("mine"),
    "missing folder": lambda folder, outside: shutil.rmtree(folder),
    "folder replaced by a file": lambda folder, outside: (
        shutil.rmtree(folder), folder.write_text("x")),
    "symlinked folder": _symlinked_folder,
    "symlinked file": _symlinked_file,
}  # fmt: skip


@pytest.mark.parametrize("damage", DAMAGES)
def test_run_repairs_a_damaged_session_folder_and_only_it(
    s: Settings, tmp_path: Path, damage: str, caplog_info
) -> None:
    extracts.run(s)
    published = sessions(s.warehouse)
    damaged = s.extracts_dir / str(published[1])
    others = {x: snapshot(s.extracts_dir / str(x)) for x in published if x != published[1]}
    outside = tmp_path / "outside"
    outside.mkdir()
    DAMAGES[damage](damaged, outside)
    outside_before = snapshot(outside)
    caplog_info.clear()
    extracts.run(s)
    assert_published(s)
    assert rewritten(caplog_info) == {str(published[1])}
    assert {x: snapshot(s.extracts_dir / str(x)) for x in others} == others
    assert snapshot(outside) == outside_before  # never followed out of the extracts folder


def test_a_new_publication_rewrites_every_folder_and_removes_what_is_not_published(
    s: Settings, tmp_path: Path, caplog_info
) -> None:
    extracts.run(s)
    gone, *kept = sessions(s.warehouse)
    edit(s.warehouse, f"DELETE FROM marts.pass_rates WHERE session = {gone}",
         f"DELETE FROM marts.block_capitalisation WHERE session = {gone}",
         new_publication("next-publication"))  # fmt: skip
    out, outside = s.extracts_dir, tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not ours")
    strays = [f".{kept[0]}.tmp", f".{kept[-1]}.old", "1999", "notes"]
    for name in strays:
        (out / name).mkdir()
        (out / name / "f.csv").write_text("x")
    (out / "notes" / "link").symlink_to(outside / "keep.txt")
    (out / "readme.txt").write_text("x")
    (out / "2099").symlink_to(outside, target_is_directory=True)
    outside_before = snapshot(outside)
    caplog_info.clear()
    extracts.run(s)
    assert publication(s.warehouse) == "next-publication"
    assert_published(s)
    assert sorted(os.listdir(out)) == sorted(str(x) for x in kept)
    assert rewritten(caplog_info) == {str(x) for x in kept}
    removed = " ".join(m for m in caplog_info.messages if "removed" in m)
    for name in [str(gone), *strays, "readme.txt", "2099"]:
        assert str(out / name) in removed
    assert snapshot(outside) == outside_before


def test_a_new_secrecy_threshold_rewrites_with_it(s: Settings) -> None:
    extracts.run(s)
    stricter = dataclasses.replace(s, secrecy_threshold=10)
    extracts.run(stricter)
    assert_published(stricter)
    for session in sessions(s.warehouse):
        df = pd.read_parquet(s.extracts_dir / str(session) / f"ndrc_{session}_pass_rates.parquet")
        shown = df[df.present.notna()]
        assert not ((shown.present >= 1) & (shown.present < 10)).any()
        assert _lines_ok(df, df.present.isna(), [])


def test_an_extracts_folder_holding_other_files_is_refused(s: Settings, tmp_path: Path) -> None:
    for folder in (s.warehouse.parent, tmp_path, SAMPLE_DIR, REPO_ROOT):
        with pytest.raises(ConfigError, match="EXAMS_EXTRACTS_DIR"):
            extracts.run(dataclasses.replace(s, extracts_dir=folder))
    assert s.warehouse.exists() and not s.extracts_dir.exists()


def test_an_unchecked_file_gets_no_extracts(s: Settings) -> None:
    extracts.run(s)
    before = snapshot(s.extracts_dir)
    edit(s.warehouse, "DELETE FROM audit.dq_results")
    with pytest.raises(InvariantBroken):
        extracts.run(s)
    assert snapshot(s.extracts_dir) == before


def test_without_the_atomic_exchange_the_old_folder_is_moved_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Other systems than Linux: the old folder is moved aside, then removed."""
    monkeypatch.setattr(sys, "platform", "darwin")
    (tmp_path / "2025").mkdir()
    (tmp_path / "2025" / "old").write_text("old")
    (tmp_path / ".2025.tmp").mkdir()
    (tmp_path / ".2025.tmp" / "new").write_text("new")
    folders.put_in_place(tmp_path / ".2025.tmp", tmp_path / "2025")
    assert os.listdir(tmp_path) == ["2025"] and os.listdir(tmp_path / "2025") == ["new"]


# ---- real processes: one publication, crash safety --------------------------------------------
CHILD = """
import os, sys
from exams import extracts, settings

event, suffix, action = sys.argv[1:4]
fired = False

def at(name, args):
    global fired
    if fired or name != event or not args or not isinstance(args[0], (str, bytes, os.PathLike)):
        return
    if not os.fsdecode(args[0]).endswith(suffix):
        return
    fired = True
    if action == "stop":
        print("stopped", flush=True)
        sys.stdin.readline()  # the parent kills this process meanwhile
    else:  # another publication replaces the warehouse, as `publish` does
        os.replace(action, settings.load().warehouse)

sys.addaudithook(at)
extracts.run(settings.load())
print("finished", flush=True)
"""


def _child(s: Settings, event: str, suffix: str, action: str) -> subprocess.Popen:
    """`extracts.run` in a process of its own, which at the first audit event `event` on a path
    ending with `suffix` either stops (prints "stopped" and waits) or publishes `action`."""
    env = pipeline_env(SAMPLE_DIR, s.warehouse, s.extracts_dir)
    return subprocess.Popen([sys.executable, "-c", CHILD, event, suffix, action], env=env,
                            cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def test_extracts_come_from_the_one_publication_opened(s: Settings, tmp_path: Path) -> None:
    """The warehouse replaced by another publication while the extracts are written: every
    folder still comes from the first one; the next run then writes the new one's."""
    reference_run = dataclasses.replace(s, extracts_dir=tmp_path / "reference")
    extracts.run(reference_run)
    first, *later = sessions(s.warehouse)
    other = s.warehouse.with_name("other.duckdb")
    shutil.copyfile(s.warehouse, other)
    edit(other, f"DELETE FROM marts.pass_rates WHERE session = {later[-1]}",
         f"DELETE FROM marts.block_capitalisation WHERE session = {later[-1]}",
         "UPDATE marts.pass_rates SET admitted = 0", new_publication("other-publication"))  # fmt: skip
    child = _child(s, "open", f"/.{first}.tmp/ndrc_{first}_pass_rates.csv", str(other))
    out, err = child.communicate()
    assert child.returncode == 0 and out == "finished\n", err
    assert not other.exists() and publication(s.warehouse) == "other-publication"
    assert sorted(os.listdir(s.extracts_dir)) == sorted(os.listdir(reference_run.extracts_dir))
    for session in [first, *later]:
        ours, theirs = s.extracts_dir / str(session), reference_run.extracts_dir / str(session)
        assert complete(ours)["run_id"] == complete(theirs)["run_id"] != "other-publication"
        for name in (f"ndrc_{session}_pass_rates.parquet", f"ndrc_{session}_blocks.parquet"):
            assert pq.read_table(ours / name).equals(pq.read_table(theirs / name))
    extracts.run(s)
    assert_published(s)
    assert str(later[-1]) not in os.listdir(s.extracts_dir)


# Where the writing process is killed: (audit event, path suffix, session index, whether that
# session's new folder is then in place).
KILL_POINTS = {
    "first file of the first session": ("open", "/.{0}.tmp/ndrc_{0}_pass_rates.csv", 0, False),
    "workbook of the second session": ("open", "/.{1}.tmp/ndrc_{1}.xlsx", 1, False),
    "manifest of the second session": ("open", "/.{1}.tmp/manifest.json", 1, False),
    "second session complete, before it is put in place": ("open", "/.{1}.tmp", 1, False),
    "second session swapped, old one not removed": ("shutil.rmtree", "/.{1}.tmp", 1, True),
}
BEFORE = ("no extracts", "extracts of a previous publication")


@pytest.mark.parametrize(("point", "before"), [
    (point, before) for point in KILL_POINTS for before in BEFORE
    if before != "no extracts" or KILL_POINTS[point][0] != "shutil.rmtree"  # no old folder
])  # fmt: skip
def test_a_killed_run_leaves_what_the_next_run_repairs(s: Settings, point: str, before: str):
    published = sessions(s.warehouse)
    current = publication(s.warehouse)
    if before != "no extracts":
        extracts.run(s)
        for session in published:
            _rewrite_manifest(s.extracts_dir / str(session), run_id="previous-publication")
    event, suffix, index, swapped = KILL_POINTS[point]
    child = _child(s, event, suffix.format(*published), "stop")
    assert child.stdout.readline() == "stopped\n", child.communicate()
    child.send_signal(signal.SIGKILL)
    child.communicate()
    assert child.returncode == -signal.SIGKILL

    # each session: its complete old folder (or none yet) or its complete new one; at most one
    # temp folder beside them
    entries = sorted(os.listdir(s.extracts_dir))
    temps = [e for e in entries if e.startswith(".")]
    assert len(temps) <= 1 and all(re.fullmatch(r"\.\d+\.tmp", t) for t in temps)
    for i, session in enumerate(published):
        folder = s.extracts_dir / str(session)
        new = i < index or (i == index and swapped)
        if new:
            assert complete(folder)["run_id"] == current
        elif before == "no extracts":
            assert not folder.exists()
        else:
            assert complete(folder)["run_id"] == "previous-publication"

    extracts.run(s)
    assert_published(s)
