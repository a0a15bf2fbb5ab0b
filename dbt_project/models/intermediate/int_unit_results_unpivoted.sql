-- depends_on: {{ ref('ref_epreuves') }}
-- One row per session × complete candidate × unit (U1–U6; UF1 when the optional épreuve was
-- sat), under the integer candidate_id: unit grade (U5: coefficient-weighted E5A/E5B),
-- assessed, acquired, validated by VAE, with the candidate's recomputed decision.
-- The rows are not read again: int_candidates_decided summed each unit's rows in its one
-- aggregation per candidate (a set of columns per unit, see the unit_codes macro); here every
-- complete candidate meets every unit of the seed, and the unit's columns are picked.
-- A view: fct_unit_result publishes it under the keyed hash, block_capitalisation counts it;
-- neither reads back the ~17 M published unit rows nor joins on the 64-character key.
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

categories as (

    select * from {{ ref('ref_candidate_categories') }}

),

per_unit as (

    select
        candidates.session,
        candidates.academy_code,
        candidates.candidate_id,
        candidates.candidate_category,
        candidates.decision,
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

unpivoted as (

    select
        per_unit.session,
        per_unit.academy_code,
        per_unit.candidate_id,
        per_unit.candidate_category,
        categories.access_route,
        per_unit.decision,
        per_unit.unit_code,
        per_unit.block_code,
        case
            when per_unit.is_assessed
                then cast(per_unit.points / per_unit.weight / 100.0 as double)
        end as unit_grade,
        per_unit.is_assessed,
        per_unit.is_assessed
        and per_unit.points >= {{ exam_rule('pass_mark') }} * 100 * per_unit.weight
            as is_acquired,
        per_unit.is_vae_validated

    from per_unit
    inner join categories on per_unit.candidate_category = categories.candidate_category
    -- a unit the candidate has rows of: mandatory, or optional and sat
    where per_unit.is_mandatory or per_unit.is_optional_sat

)

select * from unpivoted
