-- One row per session × académie × établissement × category × sex with a registered candidate
-- (uai NONE for candidates without an établissement): the finest grain an analyst may see.
-- pass_rates, establishment_results and national_pass_rates are sums of it.
with

candidates as (

    select * from {{ ref('int_candidates_compared_to_jury') }}

),

academies as (

    select * from {{ ref('ref_academies') }}

),

sexes as (

    select * from {{ ref('ref_sexes') }}

),

counted as (

    select
        session,
        academy_code,
        coalesce(uai_etablissement, 'NONE') as uai_etablissement,
        candidate_category,
        access_route,
        sex,
        count(*) as registered,
        count(*) filter (where not is_complete) as incomplete,
        count(*) filter (where is_complete and is_present) as present,
        count(*) filter (where decision = 'ADMIS') as admitted,
        count(*) filter (where decision = 'CONTROLE') as controle,
        count(*) filter (where decision = 'REFUSE') as refused,
        count(*) filter (where decision = 'ABSENT') as absent

    from candidates
    group by
        session,
        academy_code,
        coalesce(uai_etablissement, 'NONE'),
        candidate_category,
        access_route,
        sex

),

final as (

    select
        counted.session,
        counted.academy_code,
        counted.uai_etablissement,
        counted.candidate_category,
        counted.access_route,
        counted.sex,
        counted.registered,
        counted.incomplete,
        counted.present,
        counted.admitted,
        counted.controle,
        counted.refused,
        counted.absent,
        academies.academy_name,
        sexes.sex_label

    from counted
    left join academies on counted.academy_code = academies.academy_code
    left join sexes on counted.sex = sexes.sex

)

select * from final
