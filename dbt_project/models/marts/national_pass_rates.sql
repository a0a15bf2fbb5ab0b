-- One row per session × candidate category with a registered candidate: the sum of
-- outcome_counts (hence of pass_rates) over every académie, the national pass rate and its
-- Wilson interval. No académie column: every analyst may read it as the national benchmark.
with

outcomes as (

    select * from {{ ref('outcome_counts') }}

),

summed as (

    select
        session,
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
    group by session, candidate_category, access_route

),

final as (

    select
        session,
        candidate_category,
        access_route,
        cast(registered as bigint) as registered,
        cast(incomplete as bigint) as incomplete,
        cast(present as bigint) as present,
        cast(admitted as bigint) as admitted,
        cast(controle as bigint) as controle,
        cast(refused as bigint) as refused,
        cast(absent as bigint) as absent,
        case when present > 0 then admitted / present end as pass_rate,
        {{ wilson_bound('admitted', 'present', 'low') }} as pass_rate_low,
        {{ wilson_bound('admitted', 'present', 'high') }} as pass_rate_high

    from summed

)

select * from final
