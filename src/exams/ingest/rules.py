"""The row rules of export-format.md, as one set-based DuckDB statement.

Every vocabulary comes from the reference seeds (`exams.reference`): épreuves and what they
allow, categories, statuses and what each requires, exam forms, sexes, decisions, the exam rules
and the reason codes with their French text. They are written into the statement as lists of
values when it is built (a statement per run: a corrected seed changes it), rather than joined
row by row (decisions.md). The first rule a row breaks gives its reason code; its `detail`
names the column and the rule, never the value read (a wrong value may be personal data typed
in the wrong column). `exams check-export` shows a rectorat its own values, on its own machine.

Grades and averages are checked as written, before any conversion: ASCII digits, at most one
decimal separator (`,` or `.`) and at most two decimals; a sign, an exponent, a space inside,
non-ASCII digits or more decimals quarantine the row. Only a value that passed is converted, to
exact integer hundredths.
"""

from __future__ import annotations

from dataclasses import dataclass

from exams import reference

# a number as exports write it, any number of decimals; then: at most two
NUMBER = "[0-9]+([.,][0-9]+)?"
TWO_DECIMALS = "[0-9]+([.,][0-9]{1,2})?"


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _in(values: list[str]) -> str:
    """An SQL list of text values (never empty)."""
    return "(" + ", ".join(_text(v) for v in values or [""]) + ")"


@dataclass(frozen=True)
class Rule:
    code: str  # in ref_reason_codes
    column: str  # the export column it checks
    broken: str  # SQL condition over the typed row `r`
    more: str = ""  # SQL text added to the detail (never a value read from the row)


def rules() -> list[Rule]:
    """The rules in the order they are tried, with the reference data of the seeds."""
    statuses = lambda flag: _in(reference.statuses_where(flag))  # noqa: E731
    epreuves = lambda flag: _in(reference.epreuves_where(flag))  # noqa: E731
    categories = lambda flag: _in(reference.categories_where(flag))  # noqa: E731
    ccf_forms = [r["epreuve_form"] for r in reference.rows("ref_exam_forms") if r["is_ccf"] == "true"]
    ben_max_age = int(reference.exam_rule("ben_max_age"))
    ben_min_grade = int(reference.exam_rule("ben_min_grade"))
    return [
        Rule("BAD_FIELD_COUNT", "", "NOT r.field_count_ok"),
        Rule("MISSING_CANDIDATE_NUMBER", "numero_candidat", "r.numero_candidat = ''"),
        Rule("UNKNOWN_EPREUVE", "code_epreuve", f"r.code_epreuve NOT IN {_in(reference.epreuves())}"),
        Rule("UNKNOWN_STATUT", "statut", f"r.statut NOT IN {_in(reference.grade_statuses())}"),
        Rule("UNKNOWN_CATEGORY", "categorie_candidat",
             f"r.categorie_candidat NOT IN {_in(list(reference.categories()))}"),
        Rule("INVALID_FORME", "forme", f"r.forme <> '' AND r.forme NOT IN {_in(reference.exam_forms())}"),
        Rule("INVALID_SEXE", "sexe", f"r.sexe NOT IN {_in(reference.sexes())}"),
        Rule("INVALID_UAI", "uai_etablissement",
             "r.uai_etablissement <> '' AND NOT regexp_full_match(r.uai_etablissement, '[0-9]{7}[A-Z]')"),
        Rule("NOTE_NOT_A_NUMBER", "note",
             f"NOT r._note_ok AND NOT regexp_full_match(r.note, '{NUMBER}')"),
        Rule("NOTE_OUT_OF_RANGE", "note", "r.note <> '' AND coalesce(r._note > 20, true)"),
        Rule("NOTE_TOO_PRECISE", "note", "NOT r._note_ok"),
        Rule("NOTE_MISSING", "note", f"r.statut IN {statuses('note_required')} AND r.note = ''"),
        Rule("NOTE_NOT_ALLOWED", "note",
             f"r.statut NOT IN {statuses('note_required')} AND r.note <> ''"),
        Rule("BEN_ORIGIN_MISSING", "session_origine",
             f"r.statut IN {statuses('is_kept_grade')} AND r._origin IS NULL"),
        Rule("BEN_TOO_OLD", "session_origine",
             f"r.statut IN {statuses('is_kept_grade')} "
             f"AND (r._session - r._origin < 1 OR r._session - r._origin > {ben_max_age})"),
        Rule("BEN_BELOW_10", "note",
             f"r.statut IN {statuses('is_kept_grade')} AND r._note < {ben_min_grade}"),
        Rule("ORIGIN_NOT_ALLOWED", "session_origine",
             f"r.statut NOT IN {statuses('is_kept_grade')} AND r.session_origine <> ''"),
        Rule("VA_OUTSIDE_VAE", "statut",
             f"r.statut IN {statuses('vae_only')} AND r.categorie_candidat NOT IN {categories('is_vae')}"),
        Rule("DI_NOT_ALLOWED", "statut",
             f"r.statut IN {statuses('needs_dispense')} AND r.code_epreuve NOT IN {epreuves('di_allowed')}"),
        Rule("CCF_NOT_ALLOWED", "forme",
             f"r.forme IN {_in(ccf_forms)} AND NOT (r.code_epreuve IN {epreuves('ccf_possible')} "
             f"AND r.categorie_candidat IN {categories('ccf_eligible')})"),
        Rule("INVALID_DECISION", "decision",
             f"r.decision <> '' AND r.decision NOT IN {_in(reference.decisions())}"),
        Rule("INVALID_MOYENNE", "moyenne",
             f"NOT r._moyenne_ok AND NOT regexp_full_match(r.moyenne, '{NUMBER}')"),
        Rule("MOYENNE_TOO_PRECISE", "moyenne", "NOT r._moyenne_ok"),
        Rule("DUPLICATE_EPREUVE", "code_epreuve", "r.line_number > r.first_line",
             "' (première ligne : ' || r.first_line || ')'"),
    ]  # fmt: skip


def _detail(rule: Rule) -> str:
    """The column and the rule in French (the seed's label), never the value read."""
    label = reference.reason(rule.code).label
    text = _text((f"{rule.column} — " if rule.column else "") + label[0].lower() + label[1:])
    return f"{text} || {rule.more}" if rule.more else text


def _two_decimals(column: str) -> str:
    """The value as written has the form of a grade with at most two decimals (or is empty)."""
    return f"({column} = '' OR regexp_full_match({column}, '{TWO_DECIMALS}'))"


def _value(column: str) -> str:
    """The value as exact hundredths where it has the form of a grade (TRY: a value too large
    for the type is NULL, hence out of range)."""
    return f"TRY_CAST(replace({column}, ',', '.') AS DECIMAL(18, 2))"


def validation_sql(source: str, with_values: bool = False) -> str:
    """SELECT over `source` (canonical text columns + file_name, line_number, field_count_ok)
    adding `reason_code` and `detail` (NULL for a valid row), the typed values of a valid row
    `_note_h`, `_moyenne_h` (integer hundredths), `_origin`, `_session`, and with `with_values`
    (check-export only, never the nightly run) `value`: the text of the column the rule
    checked."""
    checks = rules()
    reason = "CASE " + " ".join(f"WHEN {r.broken} THEN '{r.code}'" for r in checks) + " END"
    detail = "CASE reason_code " + " ".join(
        f"WHEN '{r.code}' THEN {_detail(r)}" for r in checks
    ) + " END"  # fmt: skip
    value = ""
    if with_values:
        value = ", CASE reason_code " + " ".join(
            f"WHEN '{r.code}' THEN {r.column}" for r in checks if r.column
        ) + " END AS value"  # fmt: skip
    return f"""
    WITH
    -- duplicates are rare: rows are grouped on one 64-bit hash of (file, candidate, épreuve),
    -- then only the rows of repeated hashes are compared on the values (decisions.md)
    repeated_hashes AS (
        SELECT hash(file_name, numero_candidat, code_epreuve) AS h
        FROM {source}
        GROUP BY h
        HAVING count(*) > 1
    ),
    duplicated AS (
        SELECT file_name, numero_candidat, code_epreuve, min(line_number) AS first_line
        FROM {source}
        WHERE hash(file_name, numero_candidat, code_epreuve) IN (SELECT h FROM repeated_hashes)
        GROUP BY ALL
        HAVING count(*) > 1
    ),
    typed AS (
        SELECT
            s.*,
            d.first_line,
            {_two_decimals("s.note")} AS _note_ok,
            {_two_decimals("s.moyenne")} AS _moyenne_ok,
            {_value("s.note")} AS _note,
            {_value("s.moyenne")} AS _moyenne,
            TRY_CAST(s.session_origine AS INTEGER) AS _origin,
            TRY_CAST(s.session AS INTEGER) AS _session
        FROM {source} AS s
        LEFT JOIN duplicated AS d USING (file_name, numero_candidat, code_epreuve)
    ),
    judged AS (
        SELECT r.*, {reason} AS reason_code
        FROM typed AS r
    )
    SELECT
        * EXCLUDE (first_line, _note_ok, _moyenne_ok, _note, _moyenne),
        CASE WHEN reason_code IS NULL THEN CAST(_note * 100 AS INTEGER) END AS _note_h,
        CASE WHEN reason_code IS NULL THEN CAST(_moyenne * 100 AS INTEGER) END AS _moyenne_h,
        {detail} AS detail{value}
    FROM judged AS r
    """
