-- One row per session × académie × établissement × category (uai NONE when there is none).
with

candidates as (

    select * from {{ ref('fct_candidate_session') }}

),

identified as (

    select * from {{ ref('int_candidates_identified') }}

),

counted as (

    select
        candidates.session,
        candidates.academy_code,
        coalesce(identified.uai_etablissement, 'NONE') as uai_etablissement,
        candidates.candidate_category,
        candidates.access_route,
        count(*) as registered,
        count(*) filter (where not candidates.is_complete) as incomplete,
        count(*) filter (where candidates.is_complete and candidates.is_present) as present,
        count(*) filter (where candidates.decision = 'ADMIS') as admitted

    from candidates
    inner join identified
        on
            candidates.session = identified.session
            and candidates.candidate_key = identified.candidate_key
    group by all

),

final as (

    select
        *,
        case when present > 0 then cast(admitted / present as double) end as pass_rate

    from counted

)

select * from final
