"""The row rules of export-format.md, as one set-based DuckDB statement.

Every vocabulary comes from the reference seeds, loaded as temporary tables of the connection
(`exams.reference.load_into`): épreuves and what they allow, categories, statuses and what each
requires, exam forms, decisions, exam rules. The first rule a row breaks gives its reason code
(ref_reason_codes: what is wrong and what to do, in French); its `detail` names the column and
the rule, never the value read (a wrong value may be personal data typed in the wrong column).
`exams check-export` shows a rectorat its own values, on its own machine (`value` below).

Grades and averages are checked as written, before any conversion: ASCII digits, at most one
decimal separator (`,` or `.`) and at most two decimals; a sign, an exponent, a space inside,
non-ASCII digits or more decimals quarantine the row. Only a value that passed is converted, to
exact integer hundredths.
"""

from __future__ import annotations

from dataclasses import dataclass

# a number as exports write it, any number of decimals (then: at most two)
NUMBER = "[0-9]+([.,][0-9]+)?"
TWO_DECIMALS = "[0-9]+([.,][0-9]{1,2})?"


@dataclass(frozen=True)
class Rule:
    code: str  # in ref_reason_codes
    column: str  # the export column it checks
    broken: str  # SQL condition over the row `r` and the reference rows `e`, `s`, `c`, `f`
    more: str = "''"  # SQL text added to the detail (never a value read from the row)


def _note_is(pattern: str) -> str:
    return f"regexp_full_match(r.note, '{pattern}')"


def _moyenne_is(pattern: str) -> str:
    return f"regexp_full_match(r.moyenne, '{pattern}')"


RULES: list[Rule] = [
    Rule("BAD_FIELD_COUNT", "", "NOT r.field_count_ok"),
    Rule("MISSING_CANDIDATE_NUMBER", "numero_candidat", "r.numero_candidat = ''"),
    Rule("UNKNOWN_EPREUVE", "code_epreuve", "e.epreuve_code IS NULL"),
    Rule("UNKNOWN_STATUT", "statut", "s.grade_status IS NULL"),
    Rule("UNKNOWN_CATEGORY", "categorie_candidat", "c.candidate_category IS NULL"),
    Rule("INVALID_FORME", "forme", "r.forme <> '' AND f.epreuve_form IS NULL"),
    Rule("INVALID_SEXE", "sexe", "x.sex IS NULL"),
    Rule("INVALID_UAI", "uai_etablissement",
         "r.uai_etablissement <> '' AND NOT regexp_full_match(r.uai_etablissement, '[0-9]{7}[A-Z]')"),
    Rule("NOTE_NOT_A_NUMBER", "note", f"r.note <> '' AND NOT {_note_is(NUMBER)}"),
    Rule("NOTE_OUT_OF_RANGE", "note", "r.note <> '' AND r._note_value > 20"),
    Rule("NOTE_TOO_PRECISE", "note", f"r.note <> '' AND NOT {_note_is(TWO_DECIMALS)}"),
    Rule("NOTE_MISSING", "note", "s.note_required AND r.note = ''"),
    Rule("NOTE_NOT_ALLOWED", "note", "NOT s.note_required AND r.note <> ''"),
    Rule("BEN_ORIGIN_MISSING", "session_origine", "s.is_kept_grade AND r._origin IS NULL"),
    Rule("BEN_TOO_OLD", "session_origine",
         "s.is_kept_grade AND (r._session - r._origin < 1 OR r._session - r._origin > ben_max_age)"),
    Rule("BEN_BELOW_10", "note", "s.is_kept_grade AND r._note_value < ben_min_grade"),
    Rule("ORIGIN_NOT_ALLOWED", "session_origine",
         "NOT s.is_kept_grade AND r.session_origine <> ''"),
    Rule("VA_OUTSIDE_VAE", "statut", "s.vae_only AND NOT c.is_vae"),
    Rule("DI_NOT_ALLOWED", "statut", "s.needs_dispense AND NOT e.di_allowed"),
    Rule("CCF_NOT_ALLOWED", "forme", "f.is_ccf AND NOT (e.ccf_possible AND c.ccf_eligible)"),
    Rule("INVALID_DECISION", "decision", "r.decision <> '' AND d.decision IS NULL"),
    Rule("INVALID_MOYENNE", "moyenne", f"r.moyenne <> '' AND NOT {_moyenne_is(NUMBER)}"),
    Rule("MOYENNE_TOO_PRECISE", "moyenne", f"r.moyenne <> '' AND NOT {_moyenne_is(TWO_DECIMALS)}"),
    Rule("DUPLICATE_EPREUVE", "code_epreuve", "r.line_number > dup.first_line",
         "' (première ligne : ' || dup.first_line || ')'"),
]  # fmt: skip


def hundredths(column: str) -> str:
    """Exact integer hundredths of a value that passed TWO_DECIMALS (NULL otherwise)."""
    return (
        f"CASE WHEN regexp_full_match({column}, '{TWO_DECIMALS}') "
        f"THEN TRY_CAST(CAST(replace({column}, ',', '.') AS DECIMAL(38, 2)) * 100 AS INTEGER) "
        "END"
    )


def validation_sql(source: str) -> str:
    """SELECT over `source` (canonical text columns + file_name, line_number, field_count_ok)
    adding `reason_code`, `detail` (NULL for a valid row), `value` (the text of the column the
    rule checked: for check-export only, never stored by the nightly run), and the typed values
    of a valid row: `_note_h`, `_moyenne_h` (integer hundredths), `_origin`, `_session`."""
    reason = "CASE " + " ".join(f"WHEN {r.broken} THEN '{r.code}'" for r in RULES) + " END"
    column = "CASE reason_code " + " ".join(
        f"WHEN '{r.code}' THEN '{r.column}'" for r in RULES if r.column
    ) + " END"  # fmt: skip
    more = "CASE reason_code " + " ".join(
        f"WHEN '{r.code}' THEN {r.more}" for r in RULES if r.more != "''"
    ) + " ELSE '' END"  # fmt: skip
    value = "CASE reason_code " + " ".join(
        f"WHEN '{r.code}' THEN j.{r.column}" for r in RULES if r.column
    ) + " END"  # fmt: skip
    return f"""
    WITH rules AS (
        SELECT
            max(CASE WHEN rule = 'ben_max_age' THEN value END)::INTEGER AS ben_max_age,
            max(CASE WHEN rule = 'ben_min_grade' THEN value END)::DECIMAL(18, 2) AS ben_min_grade
        FROM ref_exam_rules
    ),
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
            *,
            -- for the range rules only; a grade is stored from its text (hundredths())
            TRY_CAST(replace(note, ',', '.') AS DOUBLE) AS _note_value,
            TRY_CAST(session_origine AS INTEGER) AS _origin,
            TRY_CAST(session AS INTEGER) AS _session
        FROM {source}
    ),
    judged AS (
        SELECT r.*, {reason} AS reason_code, dup.first_line
        FROM typed AS r
        CROSS JOIN rules
        LEFT JOIN duplicated AS dup USING (file_name, numero_candidat, code_epreuve)
        LEFT JOIN ref_epreuves AS e ON e.epreuve_code = r.code_epreuve
        LEFT JOIN ref_statuses AS s ON s.grade_status = r.statut
        LEFT JOIN ref_candidate_categories AS c ON c.candidate_category = r.categorie_candidat
        LEFT JOIN ref_exam_forms AS f ON f.epreuve_form = r.forme
        LEFT JOIN ref_sexes AS x ON x.sex = r.sexe
        LEFT JOIN ref_decisions AS d ON d.decision = r.decision
    )
    SELECT
        j.* EXCLUDE (first_line, _note_value),
        CASE WHEN j.reason_code IS NOT NULL THEN
            coalesce({column} || ' — ', '') || lower(reasons.label[1]) || reasons.label[2:]
            || {more.replace("dup.", "j.")}
        END AS detail,
        {value} AS value,
        {hundredths("j.note")} AS _note_h,
        {hundredths("j.moyenne")} AS _moyenne_h
    FROM judged AS j
    LEFT JOIN ref_reason_codes AS reasons USING (reason_code)
    """
