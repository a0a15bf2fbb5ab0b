"""Row rules of export-format.md as one set-based DuckDB statement.

Reference data (épreuves, categories, statuses, rules) comes from the dbt seeds loaded into the
`ref` schema: a rectorat correcting a seed changes what is accepted here too. The first rule a
row breaks gives its reason code; `REASONS` documents every code.
"""

from __future__ import annotations

REASONS: dict[str, str] = {
    # file-level: the whole file is rejected, each data row is quarantined with the file's code
    "BAD_FILE_NAME": "the file name does not follow NDRC_<session>_<académie>_<timestamp>.csv",
    "SESSION_OUT_OF_RANGE": "the session is outside the diploma's sessions (ref_exam_rules)",
    "UNKNOWN_ACADEMY": "the académie code is not valid for the session (ref_academies)",
    "UNREADABLE_ENCODING": "the bytes are neither UTF-8 nor Windows-1252",
    "EMPTY_FILE": "no header line",
    "NO_DATA_ROWS": "a header but no data row: would wipe the académie's results",
    "MISSING_COLUMN": "a required column is missing from the header",
    "DUPLICATE_COLUMN": "a column appears twice in the header",
    "MALFORMED_CSV": "the CSV structure cannot be parsed (e.g. an unterminated quote)",
    "ACADEMY_MISMATCH": "a row's code_academie differs from the file name's",
    "SESSION_MISMATCH": "a row's session differs from the file name's",
    # row-level
    "BAD_FIELD_COUNT": "the line has more or fewer fields than the header",
    "MISSING_CANDIDATE_NUMBER": "numero_candidat is empty",
    "UNKNOWN_EPREUVE": "code_epreuve is not an épreuve of the diploma (ref_epreuves)",
    "UNKNOWN_STATUT": "statut is not one of NOTE, ABJ, AB, DI, BEN, VA (ref_statuses)",
    "UNKNOWN_CATEGORY": "categorie_candidat is unknown (ref_candidate_categories)",
    "INVALID_FORME": "forme is neither CCF nor PONCTUEL",
    "INVALID_SEXE": "sexe is neither F nor M",
    "INVALID_UAI": "uai_etablissement is not 7 digits and a letter",
    "NOTE_NOT_A_NUMBER": "note is not a number",
    "NOTE_OUT_OF_RANGE": "note is outside 0–20",
    "NOTE_TOO_PRECISE": "note has more than 2 decimals",
    "NOTE_MISSING": "statut NOTE or BEN without a note",
    "NOTE_NOT_ALLOWED": "a note is given for a statut that has none (ABJ, AB, DI, VA)",
    "BEN_ORIGIN_MISSING": "statut BEN without a valid session_origine",
    "BEN_TOO_OLD": "the kept grade is not from 1 to 5 sessions before",
    "BEN_BELOW_10": "a kept grade (BEN) must be at least 10",
    "ORIGIN_NOT_ALLOWED": "session_origine is given for a statut other than BEN",
    "VA_OUTSIDE_VAE": "statut VA for a candidate not in the VAE category",
    "DI_NOT_ALLOWED": "statut DI on an épreuve without dispense (ref_epreuves.di_allowed)",
    "CCF_NOT_ALLOWED": "CCF for an épreuve or a category that does not allow it",
    "INVALID_DECISION": "decision is not ADMIS, REFUSE, CONTROLE or ABSENT",
    "INVALID_MOYENNE": "moyenne is not a non-negative number (it may exceed 20: optional points)",
    "DUPLICATE_EPREUVE": "the candidate already has a row for this épreuve (earlier line kept)",
}

HINTS: dict[str, str] = {
    "NOTE_NOT_A_NUMBER": "write the grade as 12,5 or 12.5",
    "NOTE_MISSING": "give the grade, or use ABJ/AB/DI for a candidate without one",
    "NOTE_NOT_ALLOWED": "leave note empty for ABJ, AB, DI and VA",
    "BEN_TOO_OLD": "a bénéfice is kept at most 5 sessions",
    "CCF_NOT_ALLOWED": "use PONCTUEL for this candidate or épreuve",
    "MISSING_COLUMN": "export every column of the national format",
    "BAD_FILE_NAME": "rename the file NDRC_<session>_<code_academie>_<YYYYMMDDTHHMMSS>.csv",
    "DUPLICATE_EPREUVE": "keep one row per candidate and épreuve",
}

NUM = r"^\s*[0-9]{1,2}([.,][0-9]+)?\s*$"


def _num(col: str) -> str:
    # the reader trimmed every field already
    return f"TRY_CAST(replace({col}, ',', '.') AS DECIMAL(18, 6))"


def validation_sql(source: str) -> str:
    """SELECT over `source` (canonical varchar columns + file_name, line_number, field_count_ok)
    adding `reason_code` and `detail` (NULL for a valid row) and the typed values the rules
    computed: `_note`, `_moyenne` (DECIMAL), `_origin`, `_session` (INTEGER; NULL when not one)."""
    # typed once per row in the `ranked` CTE, then used by every rule
    note = "r._note"
    moy = "r._moyenne"
    origin = "r._origin"
    age = "(r._session - r._origin)"
    checks: list[tuple[str, str, str]] = [
        ("BAD_FIELD_COUNT", "NOT r.field_count_ok", "'wrong number of fields'"),
        ("MISSING_CANDIDATE_NUMBER", "r.numero_candidat = ''", "'numero_candidat is empty'"),
        ("UNKNOWN_EPREUVE", "e.epreuve_code IS NULL", "'code_epreuve ''' || r.code_epreuve || ''''"),
        ("UNKNOWN_STATUT", "s.grade_status IS NULL", "'statut ''' || r.statut || ''''"),
        ("UNKNOWN_CATEGORY", "c.candidate_category IS NULL",
         "'categorie_candidat ''' || r.categorie_candidat || ''''"),
        ("INVALID_FORME", "r.forme NOT IN ('', 'CCF', 'PONCTUEL')", "'forme ''' || r.forme || ''''"),
        ("INVALID_SEXE", "r.sexe NOT IN ('F', 'M')", "'sexe ''' || r.sexe || ''''"),
        ("INVALID_UAI",
         "r.uai_etablissement <> '' AND NOT regexp_full_match(r.uai_etablissement, '[0-9]{7}[A-Z]')",
         "'uai_etablissement ''' || r.uai_etablissement || ''''"),
        ("NOTE_NOT_A_NUMBER", f"r.note <> '' AND ({note} IS NULL OR NOT regexp_full_match(r.note, '{NUM}'))",
         "'note ''' || r.note || ''''"),
        ("NOTE_OUT_OF_RANGE", f"r.note <> '' AND ({note} < 0 OR {note} > 20)",
         "'note ''' || r.note || ''' outside 0–20'"),
        ("NOTE_TOO_PRECISE", f"r.note <> '' AND round({note}, 2) <> {note}",
         "'note ''' || r.note || ''' has more than 2 decimals'"),
        ("NOTE_MISSING", "s.note_required AND r.note = ''", "'statut ' || r.statut || ' without note'"),
        ("NOTE_NOT_ALLOWED", "NOT s.note_required AND r.note <> ''",
         "'statut ' || r.statut || ' with note ''' || r.note || ''''"),
        ("BEN_ORIGIN_MISSING", f"r.statut = 'BEN' AND {origin} IS NULL",
         "'session_origine ''' || r.session_origine || ''''"),
        ("BEN_TOO_OLD", f"r.statut = 'BEN' AND ({age} < 1 OR {age} > ben_max_age)",
         "'kept from session ' || r.session_origine || ' for session ' || r.session"),
        ("BEN_BELOW_10", f"r.statut = 'BEN' AND {note} < ben_min_grade",
         "'kept grade ''' || r.note || ''' below ' || ben_min_grade"),
        ("ORIGIN_NOT_ALLOWED", "r.statut <> 'BEN' AND r.session_origine <> ''",
         "'session_origine for statut ' || r.statut"),
        ("VA_OUTSIDE_VAE", "r.statut = 'VA' AND NOT c.is_vae",
         "'statut VA for category ' || r.categorie_candidat"),
        ("DI_NOT_ALLOWED", "r.statut = 'DI' AND NOT e.di_allowed", "'statut DI on ' || r.code_epreuve"),
        ("CCF_NOT_ALLOWED", "r.forme = 'CCF' AND NOT (e.ccf_possible AND c.ccf_eligible)",
         "'CCF on ' || r.code_epreuve || ' for category ' || r.categorie_candidat"),
        ("INVALID_DECISION", "r.decision NOT IN ('', 'ADMIS', 'REFUSE', 'CONTROLE', 'ABSENT')",
         "'decision ''' || r.decision || ''''"),
        ("INVALID_MOYENNE",
         f"r.moyenne <> '' AND ({moy} IS NULL OR NOT regexp_full_match(r.moyenne, '{NUM}'))",
         "'moyenne ''' || r.moyenne || ''''"),
        ("DUPLICATE_EPREUVE", "r.line_number > d.first_line",
         "'again ' || r.code_epreuve || ' (first on line ' || first_line || ')'"),
    ]  # fmt: skip
    reason = "CASE " + " ".join(f"WHEN {cond} THEN '{code}'" for code, cond, _ in checks) + " END"
    # the detail is built for the rule that fired only (one string comparison per row)
    detail = "CASE reason_code " + " ".join(f"WHEN '{c}' THEN {d}" for c, _, d in checks) + " END"
    return f"""
    WITH rules AS (
        SELECT
            max(CASE WHEN rule = 'ben_max_age' THEN value END)::INTEGER AS ben_max_age,
            max(CASE WHEN rule = 'ben_min_grade' THEN value END)::DECIMAL(18, 6) AS ben_min_grade
        FROM ref_exam_rules
    ),
    -- duplicates are rare: rows are grouped on one 64-bit hash of (file, candidate, épreuve),
    -- then only the rows of repeated hashes are compared on the values (a collision is not a
    -- duplicate); no sort, no grouping of every row on three strings
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
    ranked AS (
        SELECT
            *,
            {_num("note")} AS _note,
            {_num("moyenne")} AS _moyenne,
            TRY_CAST(session_origine AS INTEGER) AS _origin,
            TRY_CAST(session AS INTEGER) AS _session
        FROM {source}
    ),
    judged AS (
        SELECT r.*, d.first_line, {reason} AS reason_code
        FROM ranked AS r
        CROSS JOIN rules
        LEFT JOIN duplicated AS d USING (file_name, numero_candidat, code_epreuve)
        LEFT JOIN ref_epreuves AS e ON e.epreuve_code = r.code_epreuve
        LEFT JOIN ref_statuses AS s ON s.grade_status = r.statut
        LEFT JOIN ref_candidate_categories AS c ON c.candidate_category = r.categorie_candidat
    )
    SELECT
        r.* EXCLUDE (first_line),
        {detail} AS detail
    FROM judged AS r
    CROSS JOIN rules
    """
