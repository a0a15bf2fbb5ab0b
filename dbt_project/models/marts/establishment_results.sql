-- One row per session × académie × établissement × category (uai NONE when there is none).
-- Counted from int_candidates_joined, the rows fct_candidate_session publishes, on the
-- integer candidate_id (no keyed hash to join).
with

candidates as (

    select * from {{ ref('int_candidates_joined') }}

),

counted as (

    select
        session,
        academy_code,
        coalesce(uai_etablissement, 'NONE') as uai_etablissement,
        candidate_category,
        access_route,
        count(*) as registered,
        count(*) filter (where not is_complete) as incomplete,
        count(*) filter (where is_complete and is_present) as present,
        count(*) filter (where decision = 'ADMIS') as admitted

    from candidates
    group by all

),

final as (

    select
        *,
        case when present > 0 then cast(admitted / present as double) end as pass_rate

    from counted

)

select * from final
