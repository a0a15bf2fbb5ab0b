-- One row per session × complete candidate × unit.
with

units as (

    select * from {{ ref('int_units_assessed') }}

),

categories as (

    select * from {{ ref('ref_candidate_categories') }}

),

final as (

    select
        units.session,
        units.academy_code,
        units.candidate_key,
        units.candidate_category,
        categories.access_route,
        units.unit_code,
        units.block_code,
        cast(units.unit_grade as double) as unit_grade,
        units.is_assessed,
        units.is_acquired,
        units.is_vae_validated

    from units
    inner join categories on units.candidate_category = categories.candidate_category

)

select * from final
