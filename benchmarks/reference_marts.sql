-- marts.pass_rates and marts.block_capitalisation as the contract counts them (domain.md,
-- counting definitions; the Wilson interval of each rate), the last statements of both
-- hand-written references (bench_common.reference_script appends this file). Each script first
-- defines two views:
--   candidate_results  one row per registered candidate: session, academy_code,
--                      candidate_category, access_route, is_complete, is_present, decision
--   unit_results       one row per complete candidate × unit it has: the same plus unit_code,
--                      block_code, is_assessed, is_acquired, is_vae_validated

CREATE TABLE pass_rates AS
SELECT
    c.session, c.academy_code, a.academy_name, c.candidate_category, c.access_route,
    count(*) AS registered,
    count(*) FILTER (WHERE NOT c.is_complete) AS incomplete,
    count(*) FILTER (WHERE c.is_complete AND c.is_present) AS present,
    count(*) FILTER (WHERE c.decision = 'ADMIS') AS admitted,
    count(*) FILTER (WHERE c.decision = 'CONTROLE') AS controle,
    count(*) FILTER (WHERE c.decision = 'REFUSE') AS refused,
    count(*) FILTER (WHERE c.decision = 'ABSENT') AS absent,
    CAST(count(*) FILTER (WHERE c.decision = 'ADMIS')
        / nullif(count(*) FILTER (WHERE c.is_complete AND c.is_present), 0) AS DOUBLE)
        AS pass_rate,
    wilson_bound(count(*) FILTER (WHERE c.decision = 'ADMIS'),
        count(*) FILTER (WHERE c.is_complete AND c.is_present), 'low') AS pass_rate_low,
    wilson_bound(count(*) FILTER (WHERE c.decision = 'ADMIS'),
        count(*) FILTER (WHERE c.is_complete AND c.is_present), 'high') AS pass_rate_high
FROM candidate_results AS c
LEFT JOIN academies AS a ON a.academy_code = c.academy_code
GROUP BY ALL;

CREATE TABLE block_capitalisation AS
SELECT
    session, academy_code, candidate_category, access_route, unit_code, block_code,
    count(*) FILTER (WHERE is_assessed) AS assessed,
    count(*) FILTER (WHERE is_acquired) AS acquired,
    count(*) FILTER (WHERE (is_acquired OR is_vae_validated)
        AND decision IS DISTINCT FROM 'ADMIS') AS acquired_by_non_admitted,
    count(*) FILTER (WHERE is_vae_validated) AS vae_validated,
    CAST(count(*) FILTER (WHERE is_acquired) / nullif(count(*) FILTER (WHERE is_assessed), 0)
        AS DOUBLE) AS acquisition_rate,
    wilson_bound(count(*) FILTER (WHERE is_acquired), count(*) FILTER (WHERE is_assessed), 'low')
        AS acquisition_rate_low,
    wilson_bound(count(*) FILTER (WHERE is_acquired), count(*) FILTER (WHERE is_assessed), 'high')
        AS acquisition_rate_high
FROM unit_results
GROUP BY ALL;
