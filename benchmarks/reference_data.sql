-- The reference data both hand-written references (raw_duckdb.sql, contract_floor.sql) start
-- from: the dbt seeds, read as they are. Each épreuve gets a bit (in code order) and each unit
-- the mask of its épreuves' bits and an index (in code order); `mandatory` holds the count and
-- mask of the mandatory épreuves, the macro jury_decision the decision rule and wilson_bound a
-- rate's interval. Placeholders (bench_common.reference_script fills them): seeds, the seeds
-- folder; epreuve_code, the seed's name for that column (older seeds: code_epreuve).

CREATE TEMP TABLE epreuves AS
SELECT
    {{epreuve_code}} AS epreuve_code, unit_code, block_code, coefficient, is_mandatory,
    row_number() OVER (ORDER BY {{epreuve_code}}) - 1 AS bit
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

-- warehouse-contract.md's uncertainty columns: a bound of the 95 % Wilson score interval of k
-- successes out of n, side 'low' or 'high': centre (k + z²/2) / (n + z²), half-width
-- z·sqrt(k(n−k)/n + z²/4) / (n + z²), z = 1.96, kept within [0, 1]; NULL where n = 0
CREATE TEMP MACRO wilson_bound(k, n, side) AS
CASE WHEN n > 0 THEN greatest(0.0, least(1.0,
    (k + 1.96::DOUBLE * 1.96 / 2 + CASE side WHEN 'low' THEN -1.96::DOUBLE ELSE 1.96::DOUBLE END
        * sqrt(k * (n - k) / n + 1.96::DOUBLE * 1.96 / 4)) / (n + 1.96::DOUBLE * 1.96)))
END;
