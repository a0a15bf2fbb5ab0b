-- One row per session × candidate: the recomputed decision beside the jury's, under the
-- published keyed hash candidate_key.
with

candidates as (

    select * from {{ ref('int_candidates_identified') }}
    where candidate_category is not null

),

decided as (

    select * from {{ ref('int_candidates_decided') }}

),

categories as (

    select * from {{ ref('ref_candidate_categories') }}

),

keys as (

    select * from {{ ref('stg_exports__candidates') }}

),

final as (

    select
        candidates.session,
        candidates.academy_code,
        keys.candidate_key,
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
    inner join keys on candidates.candidate_id = keys.candidate_id
    inner join categories on candidates.candidate_category = categories.candidate_category
    left join decided
        on
            candidates.session = decided.session
            and candidates.candidate_id = decided.candidate_id

)

select * from final
