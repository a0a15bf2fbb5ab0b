-- One row per session × candidate of a LOADED export (registered), with completeness:
-- a candidate is incomplete when any of its rows is in quarantine, a mandatory épreuve row is
-- missing or duplicated, or its rows name two categories.
with

result_rows as (

    select * from {{ ref('stg_exports__result_rows') }}
    where candidate_key is not null

),

categories as (

    select * from {{ ref('ref_candidate_categories') }}

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
        categories.candidate_category is not null as is_known_category,
        coalesce(epreuves.is_mandatory, false) as is_mandatory

    from result_rows
    left join categories on result_rows.candidate_category = categories.candidate_category
    left join epreuves on result_rows.code_epreuve = epreuves.code_epreuve

),

per_candidate as (

    select
        session,
        candidate_key,
        min(academy_code) as academy_code,
        arg_min(candidate_category, line_number) filter (where is_known_category)
            as candidate_category,
        arg_min(sex, line_number) filter (where sex in ('F', 'M')) as sex,
        arg_min(uai_etablissement, line_number) as uai_etablissement,
        arg_min(reported_decision, line_number) as reported_decision,
        arg_min(reported_average_hundredths, line_number) as reported_average_hundredths,
        count(*) filter (where is_quarantined) as n_quarantined_rows,
        -- ingest quarantines every repeated candidate × épreuve line, so the valid mandatory
        -- rows are distinct épreuves: a count is enough (no count distinct at national scale)
        count(*) filter (where is_mandatory and not is_quarantined) as n_mandatory_rows,
        case
            when count(*) filter (where is_known_category) = 0 then 0
            when
                min(candidate_category) filter (where is_known_category)
                = max(candidate_category) filter (where is_known_category)
                then 1
            else 2
        end as n_categories,
        min(coalesce(reported_decision, '')) <> max(coalesce(reported_decision, ''))
            as has_conflicting_reported_decisions

    from rows_with_reference
    group by session, candidate_key

),

identified as (

    select
        per_candidate.*,
        per_candidate.n_quarantined_rows = 0
        and per_candidate.n_mandatory_rows = mandatory.n_mandatory
        and per_candidate.n_categories = 1 as is_complete,
        per_candidate.n_mandatory_rows < mandatory.n_mandatory as has_missing_epreuve,
        per_candidate.n_categories > 1 as has_conflicting_categories

    from per_candidate
    cross join mandatory

)

select * from identified
