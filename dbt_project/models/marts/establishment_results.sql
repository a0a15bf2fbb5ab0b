-- One row per session × académie × établissement × category (uai NONE for candidates without
-- an établissement), for the rectorat's drill-down: the sum of outcome_counts over sexes, the
-- pass rate and its Wilson interval.
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
        uai_etablissement,
        candidate_category,
        access_route,
        sum(registered) as registered,
        sum(incomplete) as incomplete,
        sum(present) as present,
        sum(admitted) as admitted

    from outcomes
    group by session, academy_code, uai_etablissement, candidate_category, access_route

),

final as (

    select
        summed.session,
        summed.academy_code,
        summed.uai_etablissement,
        summed.candidate_category,
        summed.access_route,
        cast(summed.registered as bigint) as registered,
        cast(summed.incomplete as bigint) as incomplete,
        cast(summed.present as bigint) as present,
        cast(summed.admitted as bigint) as admitted,
        case when summed.present > 0 then summed.admitted / summed.present end as pass_rate,
        {{ wilson_bound('summed.admitted', 'summed.present', 'low') }} as pass_rate_low,
        {{ wilson_bound('summed.admitted', 'summed.present', 'high') }} as pass_rate_high,
        academies.academy_name

    from summed
    left join academies on summed.academy_code = academies.academy_code

)

select * from final
