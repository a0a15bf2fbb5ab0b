"""Ministry extracts: formats, same rows in every format, secrecy with complementary suppression."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from openpyxl import load_workbook

from exams.extracts import suppress


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
