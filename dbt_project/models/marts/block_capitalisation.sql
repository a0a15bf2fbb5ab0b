-- One row per session × académie × category × unit of fct_unit_result, counted from
-- int_unit_results_unpivoted (the rows fct_unit_result publishes, with the candidate's
-- decision), with the acquisition rate and its Wilson interval.
with

units as (

    select * from {{ ref('int_unit_results_unpivoted') }}

),

academies as (

    select * from {{ ref('ref_academies') }}

),

-- a unit's label for the dashboards, from the seeds: its block, the unit and its épreuves,
-- e.g. "BC01 — U4 (E4)", "BC02 — U5 (E5A, E5B)", "U1 (E1)"
unit_labels as (

    select
        unit_code,
        coalesce(min(block_code) || ' — ', '')
        || unit_code
        || ' ('
        || string_agg(epreuve_code, ', ' order by epreuve_code)
        || ')' as unit_label

    from {{ ref('ref_epreuves') }}
    group by unit_code

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
        counted.*,
        case
            when counted.assessed > 0 then counted.acquired / counted.assessed
        end as acquisition_rate,
        {{ wilson_bound('counted.acquired', 'counted.assessed', 'low') }} as acquisition_rate_low,
        {{ wilson_bound('counted.acquired', 'counted.assessed', 'high') }} as acquisition_rate_high,
        academies.academy_name,
        unit_labels.unit_label

    from counted
    left join academies on counted.academy_code = academies.academy_code
    left join unit_labels on counted.unit_code = unit_labels.unit_code

)

select * from final
