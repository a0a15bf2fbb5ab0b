-- One row per session × registered candidate, under the integer candidate_id: its completeness,
-- the recomputed decision and average compared with the jury's, the access route, sex and
-- établissement. fct_candidate_session publishes it under the keyed hash; outcome_counts
-- counts it. A view: its readers join it on integers, and the keyed hash is attached only
-- where it is published.
with

candidates as (

    select * from {{ ref('int_candidates_completeness_checked') }}

),

decided as (

    select * from {{ ref('int_candidates_decided') }}

),

categories as (

    select * from {{ ref('ref_candidate_categories') }}

),

joined as (

    select
        candidates.session,
        candidates.candidate_id,
        candidates.academy_code,
        candidates.uai_etablissement,
        candidates.sex,
        candidates.candidate_category,
        categories.access_route,
        candidates.is_complete,
        coalesce(decided.is_present, false) as is_present,
        cast(decided.computed_average as double) as computed_average,
        decided.decision,
        candidates.reported_decision,
        cast(candidates.reported_average_hundredths / 100 as double) as reported_average,
        -- null-safe equality (both empty = same), only for complete candidates
        case
            when candidates.is_complete
                then coalesce(
                    decided.decision = candidates.reported_decision,
                    decided.decision is null and candidates.reported_decision is null
                )
        end as decision_matches,
        case
            when candidates.is_complete
                then coalesce(
                    decided.computed_average_hundredths
                    = candidates.reported_average_hundredths,
                    decided.computed_average_hundredths is null
                    and candidates.reported_average_hundredths is null
                )
        end as average_matches

    from candidates
    inner join categories on candidates.candidate_category = categories.candidate_category
    left join decided
        on
            candidates.session = decided.session
            and candidates.candidate_id = decided.candidate_id

)

select * from joined
