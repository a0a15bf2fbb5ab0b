-- The contract's floor: the least work any implementation of warehouse-contract.md must do on
-- the benchmark's clean files, hand-written in DuckDB (one process, one file, no dbt, tests,
-- checks or audit): keep every row (DuckDB's own CSV load, typed), compute the keyed hash once
-- per candidate, and write every published mart, among them fct_unit_result (one row per
-- candidate × unit, with its 64-character candidate_key).
-- It validates nothing (clean data: the pipeline's quarantine is empty) and keeps no line
-- numbers, so it is below any real implementation. Run after reference_data.sql and before
-- reference_marts.sql (pass_rates, block_capitalisation), like raw_duckdb.sql. Placeholders
-- filled by contract_floor.py: files as in raw_duckdb.sql; ipad and opad, the HMAC-SHA256 pads
-- of the benchmark's key (hex); unit_sums, per unit its weight and weighted points (one pair of
-- sums per unit); unit_weight and unit_points, a CASE over the unit index picking that pair.

-- every row, typed as read (names and birth dates are not kept: the contract never needs them)
CREATE TABLE export_rows AS
SELECT * EXCLUDE (nom, prenom, date_naissance)
FROM read_csv({{files}}, header = true, delim = ';', quote = '"', decimal_separator = ',',
    auto_detect = false, filename = true, columns = {
        'session': 'INTEGER', 'code_academie': 'VARCHAR', 'numero_candidat': 'VARCHAR',
        'nom': 'VARCHAR', 'prenom': 'VARCHAR', 'date_naissance': 'VARCHAR',
        'sexe': 'VARCHAR', 'uai_etablissement': 'VARCHAR', 'categorie_candidat': 'VARCHAR',
        'code_epreuve': 'VARCHAR', 'forme': 'VARCHAR', 'statut': 'VARCHAR',
        'note': 'DECIMAL(5,2)', 'session_origine': 'INTEGER', 'decision': 'VARCHAR',
        'moyenne': 'DECIMAL(5,2)'});

CREATE TABLE candidate_keys AS
SELECT
    numero_candidat,
    sha256(unhex('{{opad}}') || unhex(sha256(unhex('{{ipad}}') || encode(numero_candidat))))
        AS candidate_key
FROM (SELECT DISTINCT numero_candidat FROM export_rows);

-- one hash aggregation per candidate: identity, the decision's sums, per-épreuve bit masks and
-- per-unit sums (so that units need no second GROUP BY)
CREATE TEMP TABLE candidates AS
WITH r AS (
    SELECT
        f.session, f.code_academie, f.numero_candidat, f.sexe,
        f.uai_etablissement, f.categorie_candidat, f.statut, f.decision,
        CAST(f.moyenne * 100 AS INTEGER)
            AS moyenne,
        e.unit_code, e.block_code, e.is_mandatory, e.coefficient, 1::UBIGINT << e.bit AS b,
        CAST(f.note * 100 AS INTEGER) AS g,
        CASE
            WHEN f.statut = 'ABJ' THEN 0
            ELSE CAST(f.note * 100 AS INTEGER)
        END AS pts,
        f.statut IN ('NOTE', 'ABJ', 'BEN') AS counts
    FROM export_rows AS f
    JOIN epreuves AS e ON e.epreuve_code = f.code_epreuve
)
SELECT
    session, numero_candidat,
    min(code_academie) AS academy_code,
    min(categorie_candidat) AS candidate_category,
    min(categorie_candidat) = max(categorie_candidat) AS one_category,
    min(sexe) FILTER (WHERE sexe IN ('F', 'M')) AS sex,
    min(nullif(uai_etablissement, '')) AS uai_etablissement,
    nullif(min(decision), '') AS reported_decision,
    min(moyenne) AS reported_average_hundredths,
    count(*) FILTER (WHERE is_mandatory) AS n_mandatory_rows,
    coalesce(bit_or(b) FILTER (WHERE is_mandatory), 0) AS mandatory_mask,
    coalesce(sum(coefficient) FILTER (WHERE is_mandatory AND counts), 0) AS w,
    coalesce(sum(coefficient * pts) FILTER (WHERE is_mandatory AND counts), 0)
        + coalesce(sum(greatest(g - 1000, 0)) FILTER (WHERE NOT is_mandatory AND statut = 'NOTE'), 0)
        AS p,
    coalesce(sum(coefficient) FILTER (WHERE is_mandatory AND counts AND block_code IS NOT NULL), 0)
        AS pw,
    coalesce(sum(coefficient * pts) FILTER (WHERE is_mandatory AND counts AND block_code IS NOT NULL), 0)
        AS pp,
    bool_or(statut = 'NOTE') AS has_note,
    bool_or(is_mandatory AND statut = 'AB') AS has_ab,
    bit_or(b) AS present_mask,
    bit_or(CASE WHEN statut NOT IN ('NOTE', 'ABJ') THEN b ELSE 0 END) AS unassessed_mask,
    bit_or(CASE WHEN statut <> 'VA' THEN b ELSE 0 END) AS non_va_mask,
    bit_or(CASE WHEN NOT is_mandatory AND statut = 'NOTE' THEN b ELSE 0 END) AS opt_sat_mask,
    {{unit_sums}}
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
    c.*, k.access_route, k.is_vae, ck.candidate_key,
    jury_decision(c.is_complete, c.has_note, k.is_vae, c.has_ab, c.w, c.p, c.pw, c.pp, c.session)
        AS decision,
    CASE WHEN c.w > 0 THEN (2 * c.p + c.w) // (2 * c.w) END AS computed_average_hundredths
FROM c
JOIN categories AS k ON k.candidate_category = c.candidate_category
JOIN candidate_keys AS ck ON ck.numero_candidat = c.numero_candidat;

CREATE TABLE fct_candidate_session AS
SELECT
    session, academy_code, candidate_key, sex, candidate_category, access_route, is_complete,
    coalesce(is_complete AND (has_note OR is_vae), false) AS is_present,
    CASE WHEN is_complete AND w > 0 THEN CAST(p / w / 100.0 AS DOUBLE) END AS computed_average,
    decision, reported_decision,
    CAST(reported_average_hundredths / 100 AS DOUBLE) AS reported_average,
    CASE WHEN is_complete THEN coalesce(decision = reported_decision,
        decision IS NULL AND reported_decision IS NULL) END AS decision_matches,
    CASE WHEN is_complete THEN coalesce(computed_average_hundredths = reported_average_hundredths,
        computed_average_hundredths IS NULL AND reported_average_hundredths IS NULL)
    END AS average_matches
FROM decided;

-- U1–U6 for every complete candidate, UF1 when EF1 was sat
CREATE TEMP VIEW unit_rows AS (
    SELECT
        d.session, d.academy_code, d.candidate_key, d.candidate_category, d.access_route,
        d.decision, u.unit_code, u.block_code,
        (d.unassessed_mask & u.umask) = 0 AS is_assessed,
        (d.non_va_mask & u.umask) = 0 AS is_vae_validated,
        CASE u.i {{unit_weight}} END AS w,
        CASE u.i {{unit_points}} END AS wp
    FROM decided AS d
    CROSS JOIN units AS u
    WHERE d.is_complete AND (d.present_mask & u.umask) <> 0
        AND (u.is_mandatory OR (d.opt_sat_mask & u.umask) <> 0)
);

CREATE TEMP VIEW unit_results AS
SELECT *, is_assessed AND wp >= 1000 * w AS is_acquired FROM unit_rows;

CREATE TABLE fct_unit_result AS
SELECT
    session, academy_code, candidate_key, candidate_category, access_route, unit_code,
    block_code, CASE WHEN is_assessed THEN CAST(wp / w / 100.0 AS DOUBLE) END AS unit_grade,
    is_assessed, is_acquired, is_vae_validated
FROM unit_results;

CREATE TABLE establishment_results AS
SELECT
    session, academy_code, coalesce(uai_etablissement, 'NONE') AS uai_etablissement,
    candidate_category, access_route,
    count(*) AS registered,
    count(*) FILTER (WHERE NOT is_complete) AS incomplete,
    count(*) FILTER (WHERE is_complete AND (has_note OR is_vae)) AS present,
    count(*) FILTER (WHERE decision = 'ADMIS') AS admitted,
    CAST(count(*) FILTER (WHERE decision = 'ADMIS')
        / nullif(count(*) FILTER (WHERE is_complete AND (has_note OR is_vae)), 0) AS DOUBLE)
        AS pass_rate,
    wilson_bound(count(*) FILTER (WHERE decision = 'ADMIS'),
        count(*) FILTER (WHERE is_complete AND (has_note OR is_vae)), 'low') AS pass_rate_low,
    wilson_bound(count(*) FILTER (WHERE decision = 'ADMIS'),
        count(*) FILTER (WHERE is_complete AND (has_note OR is_vae)), 'high') AS pass_rate_high
FROM decided
GROUP BY ALL;

CREATE TABLE outcome_counts AS
SELECT
    session, academy_code, coalesce(uai_etablissement, 'NONE') AS uai_etablissement,
    candidate_category, access_route, sex,
    count(*) AS registered,
    count(*) FILTER (WHERE NOT is_complete) AS incomplete,
    count(*) FILTER (WHERE is_complete AND (has_note OR is_vae)) AS present,
    count(*) FILTER (WHERE decision = 'ADMIS') AS admitted,
    count(*) FILTER (WHERE decision = 'CONTROLE') AS controle,
    count(*) FILTER (WHERE decision = 'REFUSE') AS refused,
    count(*) FILTER (WHERE decision = 'ABSENT') AS absent
FROM decided
GROUP BY ALL;

CREATE TABLE national_pass_rates AS
SELECT
    session, candidate_category, access_route,
    sum(registered) AS registered, sum(incomplete) AS incomplete, sum(present) AS present,
    sum(admitted) AS admitted, sum(controle) AS controle, sum(refused) AS refused,
    sum(absent) AS absent,
    CAST(sum(admitted) / nullif(sum(present), 0) AS DOUBLE) AS pass_rate,
    wilson_bound(sum(admitted), sum(present), 'low') AS pass_rate_low,
    wilson_bound(sum(admitted), sum(present), 'high') AS pass_rate_high
FROM outcome_counts
GROUP BY ALL;

-- what reference_marts.sql counts (block_capitalisation from unit_results: from the candidates,
-- 2.5 M rows at 20 M, not by reading fct_unit_result back)
CREATE TEMP VIEW candidate_results AS SELECT * FROM fct_candidate_session;
