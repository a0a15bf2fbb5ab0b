-- One row per session × candidate of a LOADED export with at least one valid row, and its
-- completeness: incomplete when any of its rows is in quarantine, a mandatory épreuve row is
-- missing or repeated, or its valid rows name two categories.
-- Provenance: every field of the candidate (category, sex, établissement, the jury's decision
-- and average) is taken from its valid rows only; a quarantined row only counts, through its
-- candidate number, towards the candidate's incompleteness. A candidate none of whose rows is
-- valid cannot be placed (no category) and is left out of the marts; its rows are in
-- audit.quarantine.
with

result_rows as (

    select * from {{ ref('stg_exports__result_rows') }}
    where candidate_id is not null

),

categories as (

    select
        candidate_category,
        -- a category is aggregated as its rank: small aggregation states (decisions.md)
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
        min(academy_code) filter (where not is_quarantined) as academy_code,
        arg_min(category_rank, line_number) filter (where not is_quarantined) as category_rank,
        arg_min(sex = 'F', line_number) filter (where not is_quarantined) as is_female,
        arg_min(uai_etablissement, line_number) filter (where not is_quarantined)
            as uai_etablissement,
        arg_min(reported_decision, line_number) filter (where not is_quarantined)
            as reported_decision,
        arg_min(reported_average_hundredths, line_number) filter (where not is_quarantined)
            as reported_average_hundredths,
        count(*) filter (where not is_quarantined) as n_valid_rows,
        count(*) filter (where is_quarantined) as n_quarantined_rows,
        -- ingest quarantines every repeated candidate × épreuve line, so the valid mandatory
        -- rows are distinct épreuves: a count is enough
        count(*) filter (where is_mandatory and not is_quarantined) as n_mandatory_rows,
        case
            when min(category_rank) filter (where not is_quarantined) is null then 0
            when
                min(category_rank) filter (where not is_quarantined)
                = max(category_rank) filter (where not is_quarantined)
                then 1
            else 2
        end as n_categories,
        -- true for every candidate with an épreuve on two valid rows (decisions.md: one bit
        -- per épreuve code, by hash; a shared bit can only add candidates, never miss one)
        count(*) filter (where not is_quarantined)
        > bit_count(
            bit_or(cast(1 as ubigint) << (hash(epreuve_code) % 64)) filter (where not is_quarantined)
        ) as may_repeat_an_epreuve

    from rows_with_reference
    group by session, candidate_id

),

checked as (

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
    inner join categories on per_candidate.category_rank = categories.category_rank
    cross join mandatory
    where per_candidate.n_valid_rows > 0

)

select * from checked
