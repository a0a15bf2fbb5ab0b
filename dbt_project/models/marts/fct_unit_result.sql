-- One row per session × complete candidate × unit (U1–U6; UF1 when the optional épreuve was
-- sat): unit grade (U5: coefficient-weighted E5A/E5B), assessed, acquired, validated by VAE,
-- under the published keyed hash candidate_key.
-- The rows of complete candidates are grouped once per candidate × unit, on integers and
-- booleans only (the candidate's académie and category, the unit's block and the keyed hash
-- are joined to the ~17 M unit rows afterwards, not carried through the aggregation), and
-- written once, here: no intermediate copy of the unit rows.
with

graded as (

    select * from {{ ref('int_result_rows_graded') }}

),

candidates as (

    select * from {{ ref('int_candidates_identified') }}
    where is_complete

),

keys as (

    select * from {{ ref('stg_exports__candidates') }}

),

categories as (

    select * from {{ ref('ref_candidate_categories') }}

),

unit_blocks as (

    select
        unit_code,
        min(block_code) as block_code

    from {{ ref('ref_epreuves') }}
    group by unit_code

),

per_unit as (

    select
        graded.session,
        graded.candidate_id,
        graded.unit_code,
        bool_and(graded.is_assessed_status) as is_assessed,
        bool_and(graded.statut = 'VA') as is_vae_validated,
        bool_or(not graded.is_mandatory and graded.statut = 'NOTE') as is_optional_sat,
        bool_and(graded.is_mandatory) as is_mandatory_unit,
        -- weights: the coefficients, or 1 each for an uncoefficiented (optional) épreuve
        sum(greatest(graded.coefficient, 1)) as weight,
        sum(greatest(graded.coefficient, 1) * graded.points_hundredths) as weighted_points

    from graded
    inner join candidates
        on graded.session = candidates.session and graded.candidate_id = candidates.candidate_id
    group by graded.session, graded.candidate_id, graded.unit_code

),

units as (

    select
        *,
        case
            when is_assessed then weighted_points / weight / 100.0
        end as unit_grade,
        is_assessed
        and weighted_points >= {{ exam_rule('pass_mark') }} * 100 * weight as is_acquired

    from per_unit
    where is_mandatory_unit or is_optional_sat

),

final as (

    select
        units.session,
        candidates.academy_code,
        keys.candidate_key,
        candidates.candidate_category,
        categories.access_route,
        units.unit_code,
        unit_blocks.block_code,
        cast(units.unit_grade as double) as unit_grade,
        units.is_assessed,
        units.is_acquired,
        units.is_vae_validated

    from units
    inner join candidates
        on units.session = candidates.session and units.candidate_id = candidates.candidate_id
    inner join keys on units.candidate_id = keys.candidate_id
    inner join categories on candidates.candidate_category = categories.candidate_category
    inner join unit_blocks on units.unit_code = unit_blocks.unit_code

)

select * from final
