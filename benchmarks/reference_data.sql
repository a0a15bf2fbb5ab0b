-- The reference data both hand-written references (raw_duckdb.sql, contract_floor.sql) start
-- from: the dbt seeds, read as they are. Each épreuve gets a bit (in code order) and each unit
-- the mask of its épreuves' bits and an index (in code order). Placeholder: seeds, the seeds
-- folder (bench_common.reference_script fills it).

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

