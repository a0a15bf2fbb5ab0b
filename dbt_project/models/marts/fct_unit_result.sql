-- One row per session × complete candidate × unit (U1–U6; UF1 when the optional épreuve was
-- sat): unit grade (U5: coefficient-weighted E5A/E5B), assessed, acquired, validated by VAE,
-- under the published keyed hash candidate_key; written once, here.
with

units as (

    select * from {{ ref('int_unit_results_unpivoted') }}

),

keys as (

    select * from {{ ref('stg_exports__candidates') }}

),

final as (

    select
        units.session,
        units.academy_code,
        keys.candidate_key,
        units.candidate_category,
        units.access_route,
        units.unit_code,
        units.block_code,
        units.unit_grade,
        units.is_assessed,
        units.is_acquired,
        units.is_vae_validated

    from units
    inner join keys on units.candidate_id = keys.candidate_id

)

select * from final
