-- One row per session × académie × établissement × category (uai NONE when there is none).
with

candidates as (

    select * from {{ ref('fct_candidate_session') }}

),

identified as (

    select * from {{ ref('int_candidates_identified') }}

),

keys as (

    select * from {{ ref('stg_exports__candidates') }}

),

establishments as (

    select
        identified.session,
        keys.candidate_key,
        identified.uai_etablissement

    from identified
    inner join keys on identified.candidate_id = keys.candidate_id

),

counted as (

    select
        candidates.session,
        candidates.academy_code,
        coalesce(establishments.uai_etablissement, 'NONE') as uai_etablissement,
        candidates.candidate_category,
        candidates.access_route,
        count(*) as registered,
        count(*) filter (where not candidates.is_complete) as incomplete,
        count(*) filter (where candidates.is_complete and candidates.is_present) as present,
        count(*) filter (where candidates.decision = 'ADMIS') as admitted

    from candidates
    inner join establishments
        on
            candidates.session = establishments.session
            and candidates.candidate_key = establishments.candidate_key
    group by all

),

final as (

    select
        *,
        case when present > 0 then cast(admitted / present as double) end as pass_rate

    from counted

)

select * from final
