"""Synthetic session exports, seeded and vectorised (numpy + DuckDB COPY; no Python row loops).

Magnitudes follow domain.md (pass rates by category, absences, dispenses, bénéfices, VAE) and the
files use every dialect of export-format.md (UTF-8 with and without BOM, Windows-1252, `;` or `,`,
decimal comma or point, CRLF, header spelling, column order). The jury's `decision` and `moyenne`
are computed here, independently of the dbt models, from domain.md's rules in exact integer
hundredths: on a clean export they must agree with the pipeline's recomputation.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exams import reference

# the vocabularies come from the reference seeds (one source): épreuves, coefficients, CCF
EPREUVES = reference.epreuves_where("is_mandatory")
OPTIONAL = [e for e in reference.epreuves() if e not in EPREUVES]
COEFFICIENTS = np.array([reference.coefficients()[e] for e in EPREUVES], dtype=np.int64)
PROFESSIONAL = np.array(
    [r["block_code"] != "" for r in reference.rows("ref_epreuves") if r["epreuve_code"] in EPREUVES]
)
CCF_EPREUVES = set(reference.epreuves_where("ccf_possible"))
CCF_CATEGORIES = reference.categories_where("ccf_eligible")
COLUMNS = reference.export_columns()
PASS_MARK = int(reference.exam_rule("pass_mark")) * 100
CONTROLE_MIN = int(reference.exam_rule("controle_min_average")) * 100
CONTROLE_FROM = int(reference.exam_rule("controle_first_session"))

# category: (share, mean ability, has establishment)
CATEGORIES = {
    "SCOLAIRE_PUBLIC": (0.44, 12.5, True),
    "SCOLAIRE_PRIVE_SC": (0.12, 12.9, True),
    "SCOLAIRE_PRIVE_HC": (0.03, 11.0, True),
    "APPRENTI_CFA_HAB": (0.20, 12.2, True),
    "APPRENTI_CFA_NONHAB": (0.04, 11.8, True),
    "FC_PUBLIC": (0.03, 12.2, True),
    "FC_NONHAB": (0.02, 11.6, True),
    "CONTRAT_PRO": (0.04, 12.0, True),
    "DISTANCE": (0.02, 11.2, False),
    "INDIVIDUEL": (0.03, 11.0, False),
    "EXPERIENCE": (0.02, 11.4, False),
    "VAE": (0.01, 12.0, False),
}
NOMS = ["Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois",
        "Moreau", "Lefèvre", "Girard", "Bonnet", "François", "Mercier", "Blanc", "Guérin",
        "Müller", "Nguyen", "Da Silva", "Lemaître"]  # fmt: skip
PRENOMS = ["Léa", "Chloé", "Inès", "Manon", "Zoé", "Hélène", "Noémie", "Emma", "Lucas",
           "Hugo", "Théo", "Raphaël", "Jérôme", "Loïc", "François", "Gaëtan", "Maël", "Adèle"]  # fmt: skip


@dataclass(frozen=True)
class Dialect:
    encoding: str  # "utf-8", "utf-8-sig", "cp1252"
    delimiter: str
    decimal: str
    newline: str
    header_style: str = "plain"  # plain | upper | accents
    shuffle_columns: bool = False


DIALECTS = [
    Dialect("utf-8", ";", ",", "\n"),
    Dialect("utf-8-sig", ";", ",", "\r\n", "upper"),
    Dialect("cp1252", ";", ",", "\r\n", "accents"),
    Dialect("utf-8", ",", ".", "\n", "plain", True),
    Dialect("utf-8", ",", ",", "\r\n", "accents"),
    Dialect("cp1252", ",", ".", "\n", "upper", True),
]


@dataclass
class GeneratorConfig:
    sessions: list[int] = field(default_factory=lambda: [2021, 2023, 2025])
    academies: list[str] = field(default_factory=lambda: ["10", "24", "70"])
    candidates_per_file: int = 190
    seed: int = 20250704
    # a later corrected export for the first (session, académie), one export delivered twice
    # (identical bytes, later name), one under a name outside the pattern (REJECTED)
    extras: bool = True
    # share of candidates whose jury results differ from the rule: a non-admitted candidate's
    # decision swapped between REFUSE and CONTROLE, an admitted one's average off by 0.01 (the
    # counts of registered, present and admitted stay those of the rule)
    jury_mismatch_share: float = 0.0
    row_faults: bool = False  # a few rows breaking a rule, in every file but the first
    small_establishment: bool = False  # 3 candidates of an établissement of their own per file
    dialects: list[Dialect] = field(default_factory=lambda: list(DIALECTS))


# (export column, text written): each breaks one rule of export-format.md (row_faults)
ROW_FAULTS: list[tuple[str, str]] = [
    ("note", "21,5"),  # NOTE_OUT_OF_RANGE
    ("note", "9,9999999"),  # NOTE_TOO_PRECISE: never rounded to 10
    ("note", "1e1"),  # NOTE_NOT_A_NUMBER
    ("code_epreuve", "E9"),  # UNKNOWN_EPREUVE
    ("statut", "NT"),  # UNKNOWN_STATUT
    ("uai_etablissement", "69ABC"),  # INVALID_UAI
    ("moyenne", "11,255"),  # MOYENNE_TOO_PRECISE
]


def _header(dialect: Dialect, columns: list[str]) -> list[str]:
    if dialect.header_style == "upper":
        return [f" {c.upper()} " for c in columns]
    if dialect.header_style == "accents":
        accents = {"code_academie": "Code_Académie", "numero_candidat": "Numéro_Candidat",
                   "prenom": "Prénom", "categorie_candidat": "Catégorie_Candidat",
                   "code_epreuve": "Code_Épreuve"}  # fmt: skip
        return [accents.get(c, c.capitalize()) for c in columns]
    return list(columns)


def _candidates(rng: np.random.Generator, session: int, academy: str, n: int) -> dict:
    cats = list(CATEGORIES)
    shares = np.array([CATEGORIES[c][0] for c in cats])
    cat_idx = rng.choice(len(cats), size=n, p=shares / shares.sum())
    ability = np.array([CATEGORIES[c][1] for c in cats])[cat_idx] + rng.normal(0, 2.4, n)
    has_uai = np.array([CATEGORIES[c][2] for c in cats])[cat_idx]
    uai_pool = np.array([f"0{academy}{i:04d}{'ABCDEFGHJK'[i % 10]}" for i in range(1, 13)])
    uai = np.where(has_uai, uai_pool[rng.integers(0, len(uai_pool), n)], "")
    births = np.datetime64(f"{session - 20}-01-01", "s") + rng.integers(-900, 900, n) * 86400
    naissance = pc.strftime(pa.array(births), format="%d/%m/%Y").to_numpy(zero_copy_only=False)
    seq = np.char.zfill(np.arange(1, n + 1).astype(str), 7)
    return {
        "numero": np.char.add(f"{session % 100:02d}{academy}", seq),
        "nom": np.array(NOMS)[rng.integers(0, len(NOMS), n)],
        "prenom": np.array(PRENOMS)[rng.integers(0, len(PRENOMS), n)],
        "naissance": naissance,
        "sexe": np.where(rng.random(n) < 0.58, "F", "M"),
        "uai": uai,
        "cat": np.array(cats)[cat_idx],
        "ability": ability,
    }


def _statuses(rng: np.random.Generator, c: dict, session: int) -> tuple[np.ndarray, ...]:
    """Status, grade (integer hundredths, -1 = none) and session_origine per candidate × épreuve."""
    n = len(c["cat"])
    k = len(EPREUVES)
    grade = np.clip(c["ability"][:, None] + rng.normal(0, 2.8, (n, k)), 0, 20)
    grade_h = (np.round(grade * 4) * 25).astype(np.int64)  # quarter points, in hundredths
    precise = rng.random((n, k)) < 0.1
    grade_h = np.where(precise, np.round(grade * 100).astype(np.int64), grade_h).clip(0, 2000)
    status = np.full((n, k), "NOTE", dtype=object)
    individual = np.isin(c["cat"], ["DISTANCE", "INDIVIDUEL", "EXPERIENCE"])
    # occasional absences
    r = rng.random((n, k))
    status[r < 0.008] = "ABJ"
    status[(r >= 0.008) & (r < 0.008 + np.where(individual, 0.05, 0.012)[:, None])] = "AB"
    # fully absent candidates
    gone = rng.random(n) < np.where(individual, 0.10, 0.025)
    status[gone, :] = np.where(rng.random(gone.sum()) < 0.8, "AB", "ABJ")[:, None]
    # dispenses on general units (holders of another diploma)
    dispensed = (rng.random(n) < 0.03) & ~gone
    status[dispensed, 0:3] = "DI"
    # bénéfices: repeaters keep grades >= 10 from 1-5 sessions ago
    repeat = (rng.random(n) < 0.05) & ~gone & ~dispensed
    origin = np.full((n, k), -1, dtype=np.int64)
    ben = repeat[:, None] & (rng.random((n, k)) < 0.5)
    status[ben] = "BEN"
    grade_h[ben] = np.maximum(grade_h[ben], 1000)
    origin[ben] = session - rng.integers(1, 6, ben.sum())
    # VAE: professional units validated, sometimes everything
    vae = c["cat"] == "VAE"
    full = vae & (rng.random(n) < 0.3)
    status[vae, 3:] = "VA"
    status[full, :] = "VA"
    status[vae & gone, :] = "VA"
    grade_h = np.where(np.isin(status, ["NOTE", "BEN"]), grade_h, -1)
    origin = np.where(status == "BEN", origin, -1)
    return status, grade_h, origin


def _decide(session: int, status: np.ndarray, grade_h: np.ndarray, ef1_h: np.ndarray,
            is_vae: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Jury decision and reported average (hundredths, -1 = none), domain.md in integers,
    written apart from the dbt models (what each status counts as from ref_statuses)."""
    coef = COEFFICIENTS
    counts = np.isin(status, reference.statuses_where("counts_in_average"))
    val = np.where(np.isin(status, reference.statuses_where("note_required")), grade_h, 0)
    den = (coef * counts).sum(axis=1)
    bonus = np.where(ef1_h >= 0, np.maximum(ef1_h - PASS_MARK, 0), 0)
    num = (coef * val * counts).sum(axis=1) + bonus
    den_p = (coef[PROFESSIONAL] * counts[:, PROFESSIONAL]).sum(axis=1)
    num_p = (coef[PROFESSIONAL] * val[:, PROFESSIONAL] * counts[:, PROFESSIONAL]).sum(axis=1)
    any_note = np.isin(status, reference.statuses_where("is_sat")).any(axis=1) | (ef1_h >= 0)
    any_ab = np.isin(status, reference.statuses_where("is_unjustified_absence")).any(axis=1)
    admis = (den == 0) | (num >= PASS_MARK * den)
    controle = (
        (session >= CONTROLE_FROM)
        & (num >= CONTROLE_MIN * den)
        & (num < PASS_MARK * den)
        & (den_p > 0)
        & (num_p >= PASS_MARK * den_p)
    )
    decision = np.select(
        [~any_note & ~is_vae, any_ab, admis, controle],
        ["ABSENT", "REFUSE", "ADMIS", "CONTROLE"],
        "REFUSE",
    )
    safe = np.maximum(den, 1)
    average = np.where(den > 0, (2 * num + safe) // (2 * safe), -1)
    return decision.astype(object), average


def _file_table(rng: np.random.Generator, session: int, academy: str, n: int,
                mismatch: float, corrected: bool = False, small_establishment: bool = False,
                row_faults: bool = False) -> pa.Table:  # fmt: skip
    c = _candidates(rng, session, academy, n)
    if small_establishment:  # three candidates of an établissement of their own (secrecy < 5)
        with_uai = np.flatnonzero(c["uai"] != "")[:3]
        c["uai"][with_uai] = f"0{academy}9990Z"
    status, grade_h, origin = _statuses(rng, c, session)
    if corrected:  # the jury corrected E1 grades of the first tenth of the candidates (+1.5)
        fix = (np.arange(n) < max(1, n // 10))[:, None] & (status == "NOTE")
        fix[:, 1:] = False
        grade_h = np.where(fix, np.minimum(grade_h + 150, 2000), grade_h)
    takes_ef1 = (rng.random(n) < 0.15) & (status == "NOTE").any(axis=1)
    ef1_h = np.where(
        takes_ef1, (np.clip(c["ability"] + rng.normal(0, 3, n), 0, 20) * 4).round() * 25, -1
    ).astype(np.int64)
    decision, average = _decide(session, status, grade_h, ef1_h, c["cat"] == "VAE")
    wrong = rng.random(n) < mismatch
    swapped = {"REFUSE": "CONTROLE", "CONTROLE": "REFUSE"}
    decision = np.array([swapped.get(d, d) if w else d for d, w in zip(decision, wrong,
                                                                        strict=True)])  # fmt: skip
    average = np.where(wrong & (decision == "ADMIS") & (average >= 0), average + 1, average)

    k = len(EPREUVES)
    cand = np.repeat(np.arange(n), k)
    ep = np.tile(np.array(EPREUVES), n)
    st = status.reshape(-1)
    gh = grade_h.reshape(-1)
    og = origin.reshape(-1)
    extra = np.flatnonzero(takes_ef1)
    cand = np.concatenate([cand, extra])
    ep = np.concatenate([ep, np.full(len(extra), OPTIONAL[0])])
    st = np.concatenate([st, np.full(len(extra), "NOTE")])
    gh = np.concatenate([gh, ef1_h[extra]])
    og = np.concatenate([og, np.full(len(extra), -1)])
    ep_pos = np.concatenate([np.tile(np.arange(k), n), np.full(len(extra), k)])
    order = np.lexsort((ep_pos, cand))
    cand, ep, st, gh, og = cand[order], ep[order], st[order], gh[order], og[order]

    ccf_ok = np.isin(c["cat"], CCF_CATEGORIES)
    forme = np.where(np.isin(ep, list(CCF_EPREUVES)) & ccf_ok[cand], "CCF", "PONCTUEL")
    table = pa.table(
        {
            "session": np.full(len(cand), str(session)),
            "code_academie": np.full(len(cand), academy),
            "numero_candidat": c["numero"][cand],
            "nom": c["nom"][cand],
            "prenom": c["prenom"][cand],
            "date_naissance": c["naissance"][cand],
            "sexe": c["sexe"][cand],
            "uai_etablissement": c["uai"][cand],
            "categorie_candidat": c["cat"][cand],
            "code_epreuve": ep,
            "forme": forme,
            "statut": st.astype(str),
            "grade_h": gh,
            "session_origine": np.where(og >= 0, og.astype(str), ""),
            "decision": decision[cand].astype(str),
            "average_h": average[cand],
        }
    )
    return _with_faults(table, rng) if row_faults else table


def _with_faults(table: pa.Table, rng: np.random.Generator) -> pa.Table:
    """One row per kind of ROW_FAULTS, at random lines, written as the fault's text."""
    rows = rng.choice(np.arange(10, table.num_rows), size=len(ROW_FAULTS), replace=False)
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    text = {"note": [None] * table.num_rows, "moyenne": [None] * table.num_rows}
    for row, (column, value) in zip(rows, ROW_FAULTS, strict=True):
        if column in text:
            text[column][row] = value
        else:
            columns[column][row] = value
    return pa.table({**columns, "note_text": text["note"], "moyenne_text": text["moyenne"]})


def write_export(table: pa.Table, path: Path, dialect: Dialect) -> None:
    """Write one export file in the given dialect (DuckDB COPY, then a streamed re-encode)."""
    columns = list(COLUMNS)
    if dialect.shuffle_columns:
        columns = columns[5:] + columns[:5]
    header = _header(dialect, columns)
    # grades in hundredths -> text, e.g. 1250 -> "12,5" (trailing zeros trimmed as exports do)
    fmt = (
        "CASE WHEN {c} < 0 THEN '' ELSE replace(regexp_replace(regexp_replace("
        "printf('%d.%02d', {c} // 100, {c} % 100), '0$', ''), '\\.$', '.0'), '.', '{d}') END"
    )
    faults = "note_text" in table.column_names  # texts written as they are (row faults)
    exprs = {
        "note": fmt.format(c="grade_h", d=dialect.decimal),
        "moyenne": fmt.format(c="average_h", d=dialect.decimal),
    }
    if faults:
        exprs = {col: f"coalesce({col}_text, {expr})" for col, expr in exprs.items()}
    select = ", ".join(
        "NULLIF(" + exprs.get(c, c) + f", '') AS \"{h}\""
        for c, h in zip(columns, header, strict=True)
    )
    tmp = path.with_suffix(".tmp")
    con = duckdb.connect()
    con.register("t", table)
    con.execute(
        f"COPY (SELECT {select} FROM t) TO '{tmp}' "
        f"(HEADER, DELIMITER '{dialect.delimiter}', QUOTE '\"')"
    )
    con.close()
    _reencode(tmp, path, dialect)
    tmp.unlink()


def _reencode(src: Path, dst: Path, dialect: Dialect) -> None:
    with (
        open(src, encoding="utf-8", newline="") as fin,
        open(dst, "w", encoding=dialect.encoding, newline="") as fout,
    ):
        while chunk := fin.read(1 << 20):
            if dialect.newline != "\n":
                chunk = chunk.replace("\n", dialect.newline)
            fout.write(chunk)


def export_name(session: int, academy: str, exported_at: datetime) -> str:
    return f"NDRC_{session}_{academy}_{exported_at:%Y%m%dT%H%M%S}.csv"


def generate(out: Path, cfg: GeneratorConfig) -> list[Path]:
    """Write one export per (session, académie) into `out`; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(cfg.seed)
    written: list[Path] = []
    i = 0
    for session in cfg.sessions:
        for academy in cfg.academies:
            n = max(5, int(cfg.candidates_per_file * rng.uniform(0.8, 1.2)))
            file_seed = [cfg.seed, session, int(academy)]
            table = _file_table(np.random.default_rng(file_seed), session, academy, n,
                                cfg.jury_mismatch_share, False, cfg.small_establishment,
                                cfg.row_faults and i > 0)  # fmt: skip
            at = datetime(session, 7, 4, 18, 30) + timedelta(minutes=7 * i)
            dialect = cfg.dialects[i % len(cfg.dialects)]
            path = out / export_name(session, academy, at)
            write_export(table, path, dialect)
            written.append(path)
            if cfg.extras and i == 0:
                # a corrected export a week later: new grades for a few candidates, recomputed
                fixed = _file_table(np.random.default_rng(file_seed), session, academy, n,
                                    cfg.jury_mismatch_share, True, cfg.small_establishment,
                                    cfg.row_faults)  # fmt: skip
                path2 = out / export_name(session, academy, at + timedelta(days=7))
                write_export(fixed, path2, dialect)
                written.append(path2)
            if cfg.extras and i == 2:
                shutil.copyfile(path, out / f"NDRC_{session}_{academy}_corrige.csv")
                written.append(out / f"NDRC_{session}_{academy}_corrige.csv")
            if cfg.extras and i == 1:
                path3 = out / export_name(session, academy, at + timedelta(hours=1))
                shutil.copyfile(path, path3)
                written.append(path3)
            i += 1
    return written


def sample_config() -> GeneratorConfig:
    """The committed sample's settings (data/raw), small and showing every feature: three
    sessions and académies, every category (all six routes) and both sexes, a correction, a
    duplicate, a misnamed file (rejected), rows in quarantine for several reasons, jury results
    differing from the rule, an établissement under the secrecy threshold."""
    return GeneratorConfig(jury_mismatch_share=0.02, row_faults=True, small_establishment=True)


def academies_for(session: int) -> list[str]:
    """Every académie code valid for a session (reference seed)."""
    return reference.academies_for(session)
