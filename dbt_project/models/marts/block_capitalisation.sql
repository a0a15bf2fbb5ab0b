-- One row per session × académie × category × unit of fct_unit_result.
with

units as (

    select * from {{ ref('fct_unit_result') }}

),

candidates as (

    select * from {{ ref('fct_candidate_session') }}

),

counted as (

    select
        units.session,
        units.academy_code,
        units.candidate_category,
        units.access_route,
        units.unit_code,
        units.block_code,
        count(*) filter (where units.is_assessed) as assessed,
        count(*) filter (where units.is_acquired) as acquired,
        count(*) filter (
            where (units.is_acquired or units.is_vae_validated)
            and candidates.decision is distinct from 'ADMIS'
        ) as acquired_by_non_admitted,
        count(*) filter (where units.is_vae_validated) as vae_validated

    from units
    inner join candidates
        on
            units.session = candidates.session
            and units.candidate_key = candidates.candidate_key
    group by all

),

final as (

    select
        *,
        case when assessed > 0 then cast(acquired / assessed as double) end as acquisition_rate

    from counted

)

select * from final
