-- One row per session × académie × category × unit of fct_unit_result, counted from
-- int_unit_results_unpivoted, the rows fct_unit_result publishes, which carry the candidate's
-- decision (no read back of the published unit rows, no join on the keyed hash).
with

units as (

    select * from {{ ref('int_unit_results_unpivoted') }}

),

counted as (

    select
        session,
        academy_code,
        candidate_category,
        access_route,
        unit_code,
        block_code,
        count(*) filter (where is_assessed) as assessed,
        count(*) filter (where is_acquired) as acquired,
        count(*) filter (
            where (is_acquired or is_vae_validated) and decision is distinct from 'ADMIS'
        ) as acquired_by_non_admitted,
        count(*) filter (where is_vae_validated) as vae_validated

    from units
    group by all

),

final as (

    select
        *,
        case when assessed > 0 then cast(acquired / assessed as double) end as acquisition_rate

    from counted

)

select * from final
