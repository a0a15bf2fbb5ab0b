-- The reference data both hand-written references (raw_duckdb.sql, contract_floor.sql) start
-- from: the dbt seeds, read as they are. Each épreuve gets a bit (in code order) and each unit
-- the mask of its épreuves' bits and an index (in code order); `mandatory` holds the count and
-- mask of the mandatory épreuves, and the macro jury_decision the decision rule. Placeholder:
-- seeds, the seeds folder (bench_common.reference_script fills it).

CREATE TEMP TABLE epreuves AS
SELECT
    code_epreuve, unit_code, block_code, coefficient, is_mandatory,
    row_number() OVER (ORDER BY code_epreuve) - 1 AS bit
FROM read_csv('{{seeds}}/ref_epreuves.csv', header = true,
              types = {'block_code': 'VARCHAR', 'coefficient': 'INTEGER'});

CREATE TEMP TABLE units AS
SELECT
    row_number() OVER (ORDER BY unit_code) - 1 AS i, unit_code, min(block_code) AS block_code,
    bool_and(is_mandatory) AS is_mandatory, sum(1::UBIGINT << bit)::UBIGINT AS umask
FROM epreuves GROUP BY unit_code;

CREATE TEMP TABLE categories AS
SELECT * FROM read_csv('{{seeds}}/ref_candidate_categories.csv', header = true);

CREATE TEMP TABLE academies AS
SELECT * FROM read_csv('{{seeds}}/ref_academies.csv', header = true,
                       types = {'academy_code': 'VARCHAR'});

CREATE TEMP TABLE mandatory AS
SELECT count(*) AS n, sum(1::UBIGINT << bit)::UBIGINT AS mask FROM epreuves WHERE is_mandatory;

-- domain.md's decision rule on a candidate's sums in integer hundredths: w the counted
-- coefficients, p their weighted points plus the optional bonus, pw and pp the same over the
-- professional blocks; has_ab an unjustified absence (NULL for an incomplete candidate)
CREATE TEMP MACRO jury_decision(is_complete, has_note, is_vae, has_ab, w, p, pw, pp, session) AS
CASE
    WHEN NOT is_complete THEN NULL
    WHEN NOT has_note AND NOT is_vae THEN 'ABSENT'
    WHEN has_ab THEN 'REFUSE'
    WHEN w = 0 OR p >= 1000 * w THEN 'ADMIS'
    WHEN session >= 2022 AND p >= 800 * w AND pw > 0 AND pp >= 1000 * pw THEN 'CONTROLE'
    ELSE 'REFUSE'
END;
