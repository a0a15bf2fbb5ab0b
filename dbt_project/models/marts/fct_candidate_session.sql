-- One row per session × candidate: the recomputed decision beside the jury's, under the
-- published keyed hash candidate_key.
with

candidates as (

    select * from {{ ref('int_candidates_compared_to_jury') }}

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
        candidates.access_route,
        candidates.is_complete,
        candidates.is_present,
        candidates.computed_average,
        candidates.decision,
        candidates.reported_decision,
        candidates.reported_average,
        candidates.decision_matches,
        candidates.average_matches

    from candidates
    inner join keys on candidates.candidate_id = keys.candidate_id

)

select * from final
