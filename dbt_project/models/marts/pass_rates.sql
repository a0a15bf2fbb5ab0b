-- One row per session × académie × candidate category with a registered candidate: the sum of
-- outcome_counts over établissements and sexes, the pass rate and its Wilson interval.
with

outcomes as (

    select * from {{ ref('outcome_counts') }}

),

academies as (

    select * from {{ ref('ref_academies') }}

),

summed as (

    select
        session,
        academy_code,
        candidate_category,
        access_route,
        sum(registered) as registered,
        sum(incomplete) as incomplete,
        sum(present) as present,
        sum(admitted) as admitted,
        sum(controle) as controle,
        sum(refused) as refused,
        sum(absent) as absent

    from outcomes
    group by session, academy_code, candidate_category, access_route

),

final as (

    select
        summed.session,
        summed.academy_code,
        academies.academy_name,
        summed.candidate_category,
        summed.access_route,
        cast(summed.registered as bigint) as registered,
        cast(summed.incomplete as bigint) as incomplete,
        cast(summed.present as bigint) as present,
        cast(summed.admitted as bigint) as admitted,
        cast(summed.controle as bigint) as controle,
        cast(summed.refused as bigint) as refused,
        cast(summed.absent as bigint) as absent,
        case when summed.present > 0 then summed.admitted / summed.present end as pass_rate,
        {{ wilson_bound('summed.admitted', 'summed.present', 'low') }} as pass_rate_low,
        {{ wilson_bound('summed.admitted', 'summed.present', 'high') }} as pass_rate_high

    from summed
    left join academies on summed.academy_code = academies.academy_code

)

select * from final
