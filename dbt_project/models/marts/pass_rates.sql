-- One row per session × académie × candidate category with a registered candidate.
with

candidates as (

    select * from {{ ref('fct_candidate_session') }}

),

academies as (

    select * from {{ ref('ref_academies') }}

),

counted as (

    select
        session,
        academy_code,
        candidate_category,
        access_route,
        count(*) as registered,
        count(*) filter (where not is_complete) as incomplete,
        count(*) filter (where is_complete and is_present) as present,
        count(*) filter (where decision = 'ADMIS') as admitted,
        count(*) filter (where decision = 'CONTROLE') as controle,
        count(*) filter (where decision = 'REFUSE') as refused,
        count(*) filter (where decision = 'ABSENT') as absent

    from candidates
    group by session, academy_code, candidate_category, access_route

),

final as (

    select
        counted.session,
        counted.academy_code,
        academies.academy_name,
        counted.candidate_category,
        counted.access_route,
        counted.registered,
        counted.incomplete,
        counted.present,
        counted.admitted,
        counted.controle,
        counted.refused,
        counted.absent,
        case when counted.present > 0 then cast(counted.admitted / counted.present as double) end
            as pass_rate

    from counted
    left join academies on counted.academy_code = academies.academy_code

)

select * from final
