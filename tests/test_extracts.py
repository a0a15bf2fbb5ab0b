"""Ministry extracts: formats, same rows in every format, secrecy with complementary suppression."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from exams.extracts import EMPTY, STR, Table, _write_csv, _write_parquet, suppress


@pytest.fixture(scope="module")
def extracts_dir(published_warehouse: Path) -> Path:
    return published_warehouse.parent.parent / "extracts"


def sessions(published_warehouse: Path) -> list[int]:
    con = duckdb.connect(str(published_warehouse), read_only=True)
    return [r[0] for r in con.execute("SELECT DISTINCT session FROM marts.pass_rates").fetchall()]


def test_every_session_has_every_format_and_a_true_manifest(
    published_warehouse: Path, extracts_dir: Path
) -> None:
    for session in sessions(published_warehouse):
        folder = extracts_dir / str(session)
        manifest = json.loads((folder / "manifest.json").read_text())
        names = {f["file"] for f in manifest["files"]}
        assert names == {
            f"ndrc_{session}_pass_rates.csv", f"ndrc_{session}_pass_rates.parquet",
            f"ndrc_{session}_blocks.csv", f"ndrc_{session}_blocks.parquet", f"ndrc_{session}.xlsx",
        }  # fmt: skip
        for f in manifest["files"]:
            assert hashlib.sha256((folder / f["file"]).read_bytes()).hexdigest() == f["sha256"]
        assert manifest["schema_version"] and manifest["run_id"]
        for table in ("pass_rates", "blocks"):
            csv_path = folder / f"ndrc_{session}_{table}.csv"
            raw = csv_path.read_bytes()
            assert raw.startswith(b"\xef\xbb\xbf") and b";" in raw.split(b"\n")[0]
            from_csv = pd.read_csv(csv_path, sep=";", decimal=",", encoding="utf-8-sig",
                                   dtype={"academy_code": str})  # fmt: skip
            from_parquet = pd.read_parquet(folder / f"ndrc_{session}_{table}.parquet")
            sheet = load_workbook(folder / f"ndrc_{session}.xlsx")[table]
            values = list(sheet.values)
            from_xlsx = pd.DataFrame(values[1:], columns=values[0])
            assert len(from_csv) == len(from_parquet) == len(from_xlsx) > 0
            assert list(from_csv.columns) == list(from_parquet.columns)
            for frame in (from_csv, from_xlsx):
                for col in from_parquet.columns:
                    a, b = from_parquet[col], frame[col]
                    if pd.api.types.is_numeric_dtype(a):
                        a, b = a.astype("float64"), pd.to_numeric(b).astype("float64")
                    else:
                        a, b = a.astype(str), b.astype(str)
                    pd.testing.assert_series_equal(a, b, check_names=False)
        wb = load_workbook(folder / f"ndrc_{session}.xlsx")
        assert "colonnes" in wb.sheetnames


def test_pass_rates_extract_adds_up_to_the_mart(
    published_warehouse: Path, extracts_dir: Path
) -> None:
    con = duckdb.connect(str(published_warehouse), read_only=True)
    for session in sessions(published_warehouse):
        df = pd.read_parquet(extracts_dir / str(session) / f"ndrc_{session}_pass_rates.parquet")
        nat = df[(df.academy_code == "NAT") & (df.access_route == "TOUTES")].iloc[0]
        present, admitted = con.execute(
            "SELECT sum(present), sum(admitted) FROM marts.pass_rates WHERE session = ?", [session]
        ).fetchone()
        if pd.notna(nat.present):
            assert (nat.present, nat.admitted) == (present, admitted)
            assert nat.pass_rate == round(admitted / present, 4)
        assert set(df.access_route) - {"TOUTES"} <= {
            "Formation initiale (élève ou étudiant)", "Contrat d'apprentissage",
            "Formation continue", "Contrat de professionnalisation", "Candidature individuelle",
            "Expérience (VAE)",
        }  # fmt: skip
        assert df.rncp_code.unique().tolist() == ["RNCP34030" if session <= 2023 else "RNCP38368"]


def _lines_ok(df: pd.DataFrame, hidden: pd.Series, by: list[str]) -> bool:
    for keys in ([*by, "academy_code"], [*by, "access_route"]):
        for _, idx in df.groupby(keys).groups.items():
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


def test_complementary_suppression_picks_the_smallest_extra_row() -> None:
    df = pd.DataFrame({
        "academy_code": ["10", "10", "10", "10", "NAT", "NAT", "NAT", "NAT"],
        "access_route": ["A", "B", "C", "TOUTES", "A", "B", "C", "TOUTES"],
        "present": [3, 40, 20, 63, 3, 40, 20, 63],
    })  # fmt: skip
    hidden = suppress(df, "present", 5, [])
    # A is primary; in académie 10's line the smallest other row is C (20); the route lines
    # (A with NAT-A, C with NAT-C) then need their NAT rows too.
    assert hidden.tolist() == [True, False, True, False, True, False, True, False]
    assert _lines_ok(df, hidden, [])


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
            suppress(df, "present", threshold, by)
        return
    assert suppress(df, "present", threshold, by).tolist() == expected.tolist()


def _frame(table: Table) -> pd.DataFrame:
    """The DataFrame the extract was once built as (the dtypes DuckDB and the suppression gave)."""
    df = pd.DataFrame(index=range(len(table.rows)))
    for i, (name, kind) in enumerate(zip(table.columns, table.types, strict=True)):
        values = [row[i] for row in table.rows]
        dtype = {STR: "str", EMPTY: "object"}.get(kind, kind)
        df[name] = pd.Series(values, dtype=dtype) if kind != EMPTY else [None] * len(values)
    return df


TEXT = st.text(alphabet=st.sampled_from(list("aé ;\"'x,.\n")), max_size=6)
TABLES = st.integers(0, 6).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(st.sampled_from([2025, 2031]), min_size=n, max_size=n),
        st.lists(maybe(TEXT, st.none()), min_size=n, max_size=n).filter(
            lambda v: any(x is not None for x in v)
        ),
        st.lists(maybe(st.integers(0, 10**9), st.none()), min_size=n, max_size=n),
        st.lists(
            maybe(st.sampled_from([0.0, 1.0, 0.5, 0.4857, 0.0001, 1 / 3]), st.none()),
            min_size=n,
            max_size=n,
        ),  # fmt: skip
    )
)


@settings(max_examples=100, deadline=None)
@given(data=TABLES, empty_rncp=st.booleans())
def test_csv_and_parquet_are_what_pandas_wrote(data, empty_rncp: bool, tmp_path_factory) -> None:
    n, sessions, names, counts, rates = data
    table = Table(
        columns=["session", "rncp_code", "academy_name", "present", "pass_rate"],
        types=["int32", EMPTY if empty_rncp or n == 0 else STR, STR if n else EMPTY, "Int64",
               "Float64"],
        rows=list(zip(sessions, [None if empty_rncp else "RNCP38368"] * n, names, counts, rates,
                      strict=True)),
    )  # fmt: skip
    df = _frame(table)
    tmp = tmp_path_factory.mktemp("writers")
    _write_csv(table, tmp / "new.csv")
    df.to_csv(tmp / "old.csv", sep=";", decimal=",", index=False, encoding="utf-8-sig",
              lineterminator="\r\n")  # fmt: skip
    assert (tmp / "new.csv").read_bytes() == (tmp / "old.csv").read_bytes()
    _write_parquet(table, tmp / "new.parquet")
    df.to_parquet(tmp / "old.parquet", index=False)
    assert (tmp / "new.parquet").read_bytes() == (tmp / "old.parquet").read_bytes()
