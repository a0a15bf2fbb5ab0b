"""The reference data (dbt seeds in `dbt_project/seeds/`), read by Python.

The seeds are the one source of every vocabulary: épreuves, coefficients, units and blocks,
statuses and what each counts as, decisions, file statuses, reason codes with their French text
and hint, access routes, categories, sexes, exam forms, export columns, académies, exam rules.
dbt loads them into `reference.*` (relationships tests), the checks query `reference.*`, ingest
loads them into its `ref` schema (`load_into`), and Python reads them here. Standard library
only, except `load_into` (DuckDB and PyYAML, transform environment).
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from exams.settings import DBT_PROJECT_DIR, SEEDS_DIR

if TYPE_CHECKING:
    import duckdb

SEEDS = (
    "ref_academies", "ref_access_routes", "ref_blocks", "ref_candidate_categories",
    "ref_decisions", "ref_epreuves", "ref_exam_forms", "ref_exam_rules", "ref_export_columns",
    "ref_file_statuses", "ref_reason_codes", "ref_rncp_codes", "ref_sexes", "ref_statuses",
)  # fmt: skip


@functools.cache
def rows(seed: str) -> tuple[dict[str, str], ...]:
    """The rows of one seed, as text, in file order."""
    with open(SEEDS_DIR / f"{seed}.csv", encoding="utf-8", newline="") as f:
        return tuple(csv.DictReader(f))


def _bool(value: str) -> bool:
    return value.strip().lower() == "true"


def column(seed: str, name: str) -> list[str]:
    return [r[name] for r in rows(seed)]


@dataclass(frozen=True)
class Reason:
    code: str
    scope: str  # "file": the whole file is rejected; "row": the row is quarantined
    label: str  # what is wrong, in French
    hint: str  # what to do, in French


def reasons() -> dict[str, Reason]:
    return {
        r["reason_code"]: Reason(r["reason_code"], r["scope"], r["label"], r["hint"])
        for r in rows("ref_reason_codes")
    }


def reason(code: str) -> Reason:
    """A reason code of the seed; an unknown code is a bug (every code the platform gives is
    in ref_reason_codes)."""
    try:
        return reasons()[code]
    except KeyError:
        raise KeyError(f"reason code {code!r} is not in ref_reason_codes.csv") from None


def statuses_where(flag: str) -> list[str]:
    """The grade statuses whose `flag` column is true (e.g. is_assessed: NOTE, ABJ)."""
    return [r["grade_status"] for r in rows("ref_statuses") if _bool(r[flag])]


def grade_statuses() -> list[str]:
    return column("ref_statuses", "grade_status")


def decisions() -> list[str]:
    return column("ref_decisions", "decision")


def file_statuses() -> list[str]:
    return column("ref_file_statuses", "file_status")


def file_status_labels() -> dict[str, str]:
    return {r["file_status"]: r["file_status_label"] for r in rows("ref_file_statuses")}


def access_routes() -> list[str]:
    return column("ref_access_routes", "access_route")


def categories() -> dict[str, str]:
    """candidate_category → access route."""
    return {r["candidate_category"]: r["access_route"] for r in rows("ref_candidate_categories")}


def categories_where(flag: str) -> list[str]:
    return [r["candidate_category"] for r in rows("ref_candidate_categories") if _bool(r[flag])]


def sexes() -> list[str]:
    return column("ref_sexes", "sex")


def exam_forms() -> list[str]:
    return column("ref_exam_forms", "epreuve_form")


def epreuves() -> list[str]:
    return column("ref_epreuves", "epreuve_code")


def epreuves_where(flag: str) -> list[str]:
    return [r["epreuve_code"] for r in rows("ref_epreuves") if _bool(r[flag])]


def coefficients() -> dict[str, int]:
    return {r["epreuve_code"]: int(r["coefficient"]) for r in rows("ref_epreuves")}


def units() -> list[str]:
    return list(dict.fromkeys(column("ref_epreuves", "unit_code")))


def blocks() -> list[str]:
    return column("ref_blocks", "block_code")


def export_columns() -> list[str]:
    """The columns of the national export format, in their usual order."""
    ordered = sorted(rows("ref_export_columns"), key=lambda r: int(r["position"]))
    return [r["column_name"] for r in ordered]


def required_export_columns() -> list[str]:
    return [c for c in export_columns() if _bool(_export_column(c)["is_required"])]


def _export_column(name: str) -> dict[str, str]:
    return next(r for r in rows("ref_export_columns") if r["column_name"] == name)


def exam_rule(name: str) -> str:
    for r in rows("ref_exam_rules"):
        if r["rule"] == name:
            return r["value"]
    raise KeyError(f"exam rule {name!r} is not in ref_exam_rules.csv")


def academies() -> list[tuple[str, str, int | None, int | None]]:
    """(code, name, first session or None, last session or None)."""
    return [
        (r["academy_code"], r["academy_name"],
         int(r["first_session"]) if r["first_session"] else None,
         int(r["last_session"]) if r["last_session"] else None)
        for r in rows("ref_academies")
    ]  # fmt: skip


def academies_for(session: int) -> list[str]:
    """Every académie code valid for a session."""
    return [
        code for code, _, first, last in academies()
        if (first is None or first <= session) and (last is None or session <= last)
    ]  # fmt: skip


@functools.cache
def _column_types() -> dict[str, dict[str, str]]:
    """The seeds' column types as dbt_project.yml declares them (one source for dbt and DuckDB)."""
    import yaml

    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    seeds = project.get("seeds", {}).get(project["name"], {})
    return {
        name: {c: t.upper() for c, t in conf.get("+column_types", {}).items()}
        for name, conf in seeds.items()
        if isinstance(conf, dict) and name.startswith("ref_")
    }


def load_into(con: duckdb.DuckDBPyConnection) -> None:
    """Every seed as a temporary table of the connection, named as the seed (`ref_epreuves`…),
    typed as dbt types it. Temporary: the seeds are loaded into the databases by dbt alone."""
    for seed in SEEDS:
        types = _column_types().get(seed, {})
        spec = ", ".join(f"'{c}': '{t}'" for c, t in types.items())
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {seed} AS SELECT * FROM read_csv(?, header = true"
            f"{', types = {' + spec + '}' if spec else ''})",
            [str(SEEDS_DIR / f"{seed}.csv")],
        )


def fingerprint() -> str:
    """What the seeds hold (a changed seed re-checks every export)."""
    import hashlib

    digest = hashlib.sha256()
    for seed in SEEDS:
        digest.update(seed.encode() + b"\0" + (SEEDS_DIR / f"{seed}.csv").read_bytes())
    return digest.hexdigest()


def seed_path(seed: str) -> Path:
    return SEEDS_DIR / f"{seed}.csv"
