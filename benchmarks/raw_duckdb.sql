-- Hand-optimised reference: marts.pass_rates and marts.block_capitalisation straight from the
-- export CSVs (domain.md's rules; warehouse-contract.md's columns), without validation,
-- quarantine, pseudonymisation, audit or tests: the floor the pipeline is measured against.
--
-- One pass over the rows: a single hash aggregation per candidate that also keeps, per épreuve,
-- bit masks (assessed, grade >= 10, VA, sat) so that units need no second GROUP BY; only U5
-- (two épreuves) needs its weighted margin. Run after reference_data.sql (the seeds as tables
-- epreuves, units, categories, academies) and before reference_marts.sql (the two marts, from
-- the views this script ends with). Placeholder filled by raw_duckdb.py:
--   {{files}}  list literal of the latest export of each session × académie

CREATE TEMP TABLE candidates AS
WITH r AS (
    SELECT
        f.session, f.code_academie AS academy_code, f.numero_candidat,
        f.categorie_candidat AS cat, f.statut, e.unit_code, e.block_code, e.is_mandatory,
        e.coefficient AS coef, 1::UBIGINT << e.bit AS b,
        CAST(f.note * 100 AS INTEGER) AS g,
        CASE WHEN f.statut = 'ABJ' THEN 0 ELSE CAST(f.note * 100 AS INTEGER) END AS pts,
        f.statut IN ('NOTE', 'ABJ', 'BEN') AS counts
    FROM read_csv({{files}}, header = true, delim = ';', quote = '"', decimal_separator = ',',
        auto_detect = false, columns = {
            'session': 'INTEGER', 'code_academie': 'VARCHAR', 'numero_candidat': 'VARCHAR',
            'nom': 'VARCHAR', 'prenom': 'VARCHAR', 'date_naissance': 'VARCHAR',
            'sexe': 'VARCHAR', 'uai_etablissement': 'VARCHAR', 'categorie_candidat': 'VARCHAR',
            'code_epreuve': 'VARCHAR', 'forme': 'VARCHAR', 'statut': 'VARCHAR',
            'note': 'DECIMAL(5,2)', 'session_origine': 'VARCHAR', 'decision': 'VARCHAR',
            'moyenne': 'VARCHAR'}) AS f
    JOIN epreuves AS e ON e.epreuve_code = f.code_epreuve
)
SELECT
    session, numero_candidat,
    min(academy_code) AS academy_code,
    min(cat) AS candidate_category,
    min(cat) = max(cat) AS one_category,
    count(*) FILTER (WHERE is_mandatory) AS n_mandatory_rows,
    coalesce(bit_or(b) FILTER (WHERE is_mandatory), 0) AS mandatory_mask,
    coalesce(sum(coef) FILTER (WHERE is_mandatory AND counts), 0) AS w,
    coalesce(sum(coef * pts) FILTER (WHERE is_mandatory AND counts), 0)
        + coalesce(sum(greatest(g - 1000, 0)) FILTER (WHERE NOT is_mandatory AND statut = 'NOTE'), 0)
        AS p,
    coalesce(sum(coef) FILTER (WHERE is_mandatory AND counts AND block_code IS NOT NULL), 0) AS pw,
    coalesce(sum(coef * pts) FILTER (WHERE is_mandatory AND counts AND block_code IS NOT NULL), 0)
        AS pp,
    bool_or(statut = 'NOTE') AS has_note,
    bool_or(is_mandatory AND statut = 'AB') AS has_ab,
    bit_or(CASE WHEN statut IN ('NOTE', 'ABJ') THEN b ELSE 0 END) AS assessed_mask,
    bit_or(CASE WHEN statut IN ('NOTE', 'ABJ') AND pts >= 1000 THEN b ELSE 0 END) AS pass_mask,
    bit_or(CASE WHEN statut = 'VA' THEN b ELSE 0 END) AS va_mask,
    bit_or(CASE WHEN statut = 'NOTE' THEN b ELSE 0 END) AS sat_mask,
    sum(coef * (pts - 1000)) FILTER (WHERE unit_code = 'U5') AS u5_margin
FROM r
GROUP BY session, numero_candidat;

CREATE TEMP TABLE decided AS
WITH c AS (
    SELECT
        candidates.*,
        one_category AND n_mandatory_rows = m.n AND mandatory_mask = m.mask AS is_complete
    FROM candidates CROSS JOIN mandatory AS m
)
SELECT
    c.session, c.academy_code, c.candidate_category, k.access_route, k.is_vae,
    c.assessed_mask, c.pass_mask, c.va_mask, c.sat_mask, c.u5_margin,
    c.is_complete,
    c.has_note OR k.is_vae AS is_present,
    jury_decision(c.is_complete, c.has_note, k.is_vae, c.has_ab, c.w, c.p, c.pw, c.pp, c.session)
        AS decision
FROM c
JOIN categories AS k ON k.candidate_category = c.candidate_category;

-- what reference_marts.sql counts
CREATE TEMP VIEW candidate_results AS SELECT * FROM decided;

-- units of complete candidates: U1–U6 always, UF1 when EF1 was sat
CREATE TEMP VIEW unit_results AS
SELECT
    d.session, d.academy_code, d.candidate_category, d.access_route, d.decision,
    u.unit_code, u.block_code,
    (d.assessed_mask & u.umask) = u.umask AS is_assessed,
    (d.assessed_mask & u.umask) = u.umask AND CASE
        WHEN u.unit_code = 'U5' THEN d.u5_margin >= 0
        ELSE (d.pass_mask & u.umask) = u.umask
    END AS is_acquired,
    (d.va_mask & u.umask) = u.umask AS is_vae_validated
FROM decided AS d
CROSS JOIN units AS u
WHERE d.is_complete AND (u.is_mandatory OR (d.sat_mask & u.umask) <> 0);
