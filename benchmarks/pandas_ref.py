"""What an analyst would write in pandas: the two contract marts from the export CSVs.

    python benchmarks/pandas_ref.py --raw-dir DIR --out DIR

Reads the latest export of each (session, académie) with read_csv (only the columns it needs),
joins the reference seeds, groups by candidate, then by candidate × unit, and writes
pass_rates.parquet and block_capitalisation.parquet into --out. Same rules as domain.md, in
integer hundredths (no float error at 10.00).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from bench_common import BLOCKS, OLD_SEED_COLUMNS, PASS_RATES, SEEDS_DIR, latest_exports

USECOLS = ["session", "code_academie", "numero_candidat", "categorie_candidat", "code_epreuve",
           "statut", "note"]  # fmt: skip


def read_rows(raw_dir: Path) -> pd.DataFrame:
    frames = [
        pd.read_csv(
            f,
            sep=";",
            decimal=",",
            usecols=USECOLS,
            dtype={
                "session": "int64",
                "code_academie": str,
                "numero_candidat": str,
                "note": "float64",
            },
        )  # fmt: skip
        for f in latest_exports(raw_dir)
    ]
    return pd.concat(frames, ignore_index=True)


def compute(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    epreuves = pd.read_csv(SEEDS_DIR / "ref_epreuves.csv", dtype={"block_code": str})
    epreuves = epreuves.rename(columns=OLD_SEED_COLUMNS)
    categories = pd.read_csv(SEEDS_DIR / "ref_candidate_categories.csv")
    academies = pd.read_csv(SEEDS_DIR / "ref_academies.csv", dtype={"academy_code": str})
    n_mandatory = int(epreuves["is_mandatory"].sum())

    df = rows.rename(columns={"code_academie": "academy_code",
                              "categorie_candidat": "candidate_category"})  # fmt: skip
    df = df.merge(epreuves[["epreuve_code", "unit_code", "block_code", "coefficient",
                            "is_mandatory"]], left_on="code_epreuve", right_on="epreuve_code")  # fmt: skip
    grade = (df["note"] * 100).round().astype("Int64")
    df["points"] = grade.where(df["statut"] != "ABJ", 0).fillna(0).astype("int64")
    counts = df["is_mandatory"] & df["statut"].isin(["NOTE", "ABJ", "BEN"])
    pro = counts & df["block_code"].notna()
    df["w"] = df["coefficient"].where(counts, 0)
    df["wp"] = (df["coefficient"] * df["points"]).where(counts, 0)
    df["pw"] = df["coefficient"].where(pro, 0)
    df["pp"] = (df["coefficient"] * df["points"]).where(pro, 0)
    df["bonus"] = (
        (grade.fillna(0).astype("int64") - 1000)
        .clip(lower=0)
        .where(~df["is_mandatory"] & (df["statut"] == "NOTE"), 0)
    )
    df["is_note"] = df["statut"] == "NOTE"
    df["is_ab"] = df["is_mandatory"] & (df["statut"] == "AB")
    df["mandatory_row"] = df["is_mandatory"].astype("int64")
    df["mandatory_epreuve"] = df["code_epreuve"].where(df["is_mandatory"])

    # one row per candidate
    cand = df.groupby(["session", "numero_candidat"], sort=False).agg(
        academy_code=("academy_code", "min"),
        candidate_category=("candidate_category", "first"),
        n_categories=("candidate_category", "nunique"),
        n_mandatory_rows=("mandatory_row", "sum"),
        n_mandatory_epreuves=("mandatory_epreuve", "nunique"),
        w=("w", "sum"), wp=("wp", "sum"), bonus=("bonus", "sum"),
        pw=("pw", "sum"), pp=("pp", "sum"),
        has_note=("is_note", "any"), has_ab=("is_ab", "any"),
    ).reset_index()  # fmt: skip
    cand = cand.merge(categories[["candidate_category", "access_route", "is_vae"]],
                      on="candidate_category")  # fmt: skip
    cand["is_complete"] = (
        (cand["n_categories"] == 1)
        & (cand["n_mandatory_rows"] == n_mandatory)
        & (cand["n_mandatory_epreuves"] == n_mandatory)
    )
    total = cand["wp"] + cand["bonus"]
    cand["is_present"] = cand["has_note"] | cand["is_vae"]
    decision = np.select(
        [
            ~cand["has_note"] & ~cand["is_vae"],
            cand["has_ab"],
            (cand["w"] == 0) | (total >= 1000 * cand["w"]),
            (cand["session"] >= 2022) & (total >= 800 * cand["w"]) & (cand["pw"] > 0)
            & (cand["pp"] >= 1000 * cand["pw"]),
        ],
        ["ABSENT", "REFUSE", "ADMIS", "CONTROLE"],
        "REFUSE",
    )  # fmt: skip
    cand["decision"] = pd.Series(decision, index=cand.index).where(cand["is_complete"])

    cand["present"] = cand["is_complete"] & cand["is_present"]
    for name, value in (("admitted", "ADMIS"), ("controle", "CONTROLE"),
                        ("refused", "REFUSE"), ("absent", "ABSENT")):  # fmt: skip
        cand[name] = cand["decision"] == value
    cand["incomplete"] = ~cand["is_complete"]
    pass_rates = cand.groupby(
        ["session", "academy_code", "candidate_category", "access_route"], as_index=False
    ).agg(
        registered=("numero_candidat", "size"), incomplete=("incomplete", "sum"),
        present=("present", "sum"), admitted=("admitted", "sum"), controle=("controle", "sum"),
        refused=("refused", "sum"), absent=("absent", "sum"),
    )  # fmt: skip
    pass_rates["pass_rate"] = pass_rates["admitted"] / pass_rates["present"].where(
        pass_rates["present"] > 0
    )
    pass_rates = pass_rates.merge(academies[["academy_code", "academy_name"]],
                                  on="academy_code", how="left")  # fmt: skip

    # one row per candidate × unit (U5 = weighted mean of E5A and E5B)
    df["unit_weight"] = df["coefficient"].clip(lower=1)
    df["unit_points"] = df["unit_weight"] * df["points"]
    df["assessed"] = df["statut"].isin(["NOTE", "ABJ"])
    df["va"] = df["statut"] == "VA"
    df["optional_sat"] = ~df["is_mandatory"] & df["is_note"]
    units = df.groupby(["session", "numero_candidat", "unit_code"], sort=False).agg(
        block_code=("block_code", "first"), is_assessed=("assessed", "all"),
        is_vae_validated=("va", "all"), optional_sat=("optional_sat", "any"),
        mandatory=("is_mandatory", "all"), weight=("unit_weight", "sum"),
        points=("unit_points", "sum"),
    ).reset_index()  # fmt: skip
    units = units[units["mandatory"] | units["optional_sat"]]
    units["is_acquired"] = units["is_assessed"] & (units["points"] >= 1000 * units["weight"])
    units = units.merge(
        cand.loc[cand["is_complete"], ["session", "numero_candidat", "academy_code",
                                       "candidate_category", "access_route", "decision"]],
        on=["session", "numero_candidat"],
    )  # fmt: skip
    units["non_admitted"] = (units["is_acquired"] | units["is_vae_validated"]) & (
        units["decision"] != "ADMIS"
    )
    blocks = units.groupby(
        ["session", "academy_code", "candidate_category", "access_route", "unit_code"],
        as_index=False, dropna=False,
    ).agg(
        block_code=("block_code", "first"), assessed=("is_assessed", "sum"),
        acquired=("is_acquired", "sum"), acquired_by_non_admitted=("non_admitted", "sum"),
        vae_validated=("is_vae_validated", "sum"),
    )  # fmt: skip
    blocks["acquisition_rate"] = blocks["acquired"] / blocks["assessed"].where(
        blocks["assessed"] > 0
    )
    return pass_rates[PASS_RATES], blocks[BLOCKS]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--raw-dir", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    pass_rates, blocks = compute(read_rows(args.raw_dir))
    args.out.mkdir(parents=True, exist_ok=True)
    pass_rates.to_parquet(args.out / "pass_rates.parquet", index=False)
    blocks.to_parquet(args.out / "block_capitalisation.parquet", index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
