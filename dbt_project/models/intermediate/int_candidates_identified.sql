-- One row per session × candidate of a LOADED export (registered), with completeness:
-- a candidate is incomplete when any of its rows is in quarantine, a mandatory épreuve row is
-- missing or duplicated, or its rows name two categories.
-- One hash aggregation over every row (~20 M at national scale): its per-candidate states are
-- kept small (a category is aggregated as its rank in the seed, the sex as a boolean), since
-- wide string states make DuckDB spill to disk under the profile's memory limit.
with

result_rows as (

    select * from {{ ref('stg_exports__result_rows') }}
    where candidate_id is not null

),

categories as (

    select
        candidate_category,
        -- ranks in the order of the names: min/max of ranks are those of the names
        row_number() over (order by candidate_category) as category_rank

    from {{ ref('ref_candidate_categories') }}

),

epreuves as (

    select * from {{ ref('ref_epreuves') }}

),

mandatory as (

    select count(*) as n_mandatory from epreuves
    where is_mandatory

),

rows_with_reference as (

    select
        result_rows.*,
        categories.category_rank,
        coalesce(epreuves.is_mandatory, false) as is_mandatory

    from result_rows
    left join categories on result_rows.candidate_category = categories.candidate_category
    left join epreuves on result_rows.epreuve_code = epreuves.epreuve_code

),

per_candidate as (

    select
        session,
        candidate_id,
        min(academy_code) as academy_code,
        arg_min(category_rank, line_number) filter (where category_rank is not null)
            as category_rank,
        arg_min(sex = 'F', line_number) filter (where sex in ('F', 'M')) as is_female,
        arg_min(uai_etablissement, line_number) as uai_etablissement,
        arg_min(reported_decision, line_number) as reported_decision,
        arg_min(reported_average_hundredths, line_number) as reported_average_hundredths,
        count(*) filter (where is_quarantined) as n_quarantined_rows,
        -- ingest quarantines every repeated candidate × épreuve line, so the valid mandatory
        -- rows are distinct épreuves: a count is enough (no count distinct at national scale)
        count(*) filter (where is_mandatory and not is_quarantined) as n_mandatory_rows,
        case
            when min(category_rank) is null then 0
            when min(category_rank) = max(category_rank) then 1
            else 2
        end as n_categories,
        -- true for every candidate with an épreuve on two valid rows (one bit per épreuve
        -- code, by hash: a shared bit can only add candidates, never miss one); the checks
        -- that need the repeated rows look at these candidates' rows only
        count(*) filter (where not is_quarantined)
        > bit_count(
            bit_or(cast(1 as ubigint) << (hash(epreuve_code) % 64)) filter (where not is_quarantined)
        ) as may_repeat_an_epreuve

    from rows_with_reference
    group by session, candidate_id

),

identified as (

    select
        per_candidate.session,
        per_candidate.candidate_id,
        per_candidate.academy_code,
        categories.candidate_category,
        case per_candidate.is_female when true then 'F' when false then 'M' end as sex,
        per_candidate.uai_etablissement,
        per_candidate.reported_decision,
        per_candidate.reported_average_hundredths,
        per_candidate.n_quarantined_rows,
        per_candidate.n_mandatory_rows,
        per_candidate.n_categories,
        per_candidate.may_repeat_an_epreuve,
        per_candidate.n_quarantined_rows = 0
        and per_candidate.n_mandatory_rows = mandatory.n_mandatory
        and per_candidate.n_categories = 1 as is_complete,
        per_candidate.n_mandatory_rows < mandatory.n_mandatory as has_missing_epreuve,
        per_candidate.n_categories > 1 as has_conflicting_categories

    from per_candidate
    left join categories on per_candidate.category_rank = categories.category_rank
    cross join mandatory

)

select * from identified
