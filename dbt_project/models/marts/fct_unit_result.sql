-- depends_on: {{ ref('ref_epreuves') }}
-- One row per session × complete candidate × unit (U1–U6; UF1 when the optional épreuve was
-- sat): unit grade (U5: coefficient-weighted E5A/E5B), assessed, acquired, validated by VAE,
-- under the published keyed hash candidate_key; written once, here.
-- The rows are not read again: int_candidates_decided summed each unit's rows in its one
-- aggregation per candidate (a set of columns per unit, see the unit_codes macro); here every
-- complete candidate meets every unit of the seed, and the unit's columns are picked.
{%- set unit_list = unit_codes() %}
with

candidates as (

    select * from {{ ref('int_candidates_decided') }}

),

units as (

    select
        unit_code,
        min(block_code) as block_code

    from {{ ref('ref_epreuves') }}
    group by unit_code

),

per_unit as (

    select
        candidates.session,
        candidates.academy_code,
        candidates.candidate_id,
        candidates.candidate_category,
        units.unit_code,
        units.block_code,
        {%- for column in [
            'weight', 'points', 'is_assessed', 'is_vae_validated', 'is_mandatory',
            'is_optional_sat'
        ] %}
            case units.unit_code
                {%- for unit in unit_list %}
                    when '{{ unit }}' then candidates.{{ unit | lower }}_{{ column }}
                {%- endfor %}
            end as {{ column }}{% if not loop.last %},{% endif %}
        {%- endfor %}

    from candidates
    cross join units

),

units_results as (

    select
        session,
        academy_code,
        candidate_id,
        candidate_category,
        unit_code,
        block_code,
        is_assessed,
        case
            when is_assessed then points / weight / 100.0
        end as unit_grade,
        is_assessed
        and points >= {{ exam_rule('pass_mark') }} * 100 * weight as is_acquired,
        is_vae_validated

    from per_unit
    -- a unit the candidate has rows of: mandatory, or optional and sat
    where is_mandatory or is_optional_sat

),

keys as (

    select * from {{ ref('stg_exports__candidates') }}

),

categories as (

    select * from {{ ref('ref_candidate_categories') }}

),

final as (

    select
        units_results.session,
        units_results.academy_code,
        keys.candidate_key,
        units_results.candidate_category,
        categories.access_route,
        units_results.unit_code,
        units_results.block_code,
        cast(units_results.unit_grade as double) as unit_grade,
        units_results.is_assessed,
        units_results.is_acquired,
        units_results.is_vae_validated

    from units_results
    inner join keys on units_results.candidate_id = keys.candidate_id
    inner join categories on units_results.candidate_category = categories.candidate_category

)

select * from final
