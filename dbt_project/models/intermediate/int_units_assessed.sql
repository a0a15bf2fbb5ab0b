-- One row per complete candidate × unit (U1–U6; UF1 when the optional épreuve was sat): unit
-- grade (U5: coefficient-weighted E5A/E5B), assessed, acquired, validated by VAE.
with

candidates as (

    select * from {{ ref('int_candidates_identified') }}
    where is_complete

),

graded as (

    select * from {{ ref('int_result_rows_graded') }}

),

per_unit as (

    select
        session,
        candidate_key,
        unit_code,
        min(block_code) as block_code,
        bool_and(is_assessed_status) as is_assessed,
        bool_and(statut = 'VA') as is_vae_validated,
        bool_or(not is_mandatory and statut = 'NOTE') as is_optional_sat,
        bool_and(is_mandatory) as is_mandatory_unit,
        -- weights: the coefficients, or 1 each for an uncoefficiented (optional) épreuve
        sum(greatest(coefficient, 1)) as weight,
        sum(greatest(coefficient, 1) * points_hundredths) as weighted_points

    from graded
    group by session, candidate_key, unit_code

),

units as (

    select
        candidates.session,
        candidates.academy_code,
        candidates.candidate_key,
        candidates.candidate_category,
        per_unit.unit_code,
        per_unit.block_code,
        per_unit.is_assessed,
        case
            when per_unit.is_assessed then per_unit.weighted_points / per_unit.weight / 100.0
        end as unit_grade,
        per_unit.is_assessed
        and per_unit.weighted_points >= {{ exam_rule('pass_mark') }} * 100 * per_unit.weight
            as is_acquired,
        per_unit.is_vae_validated

    from per_unit
    inner join candidates
        on
            per_unit.session = candidates.session
            and per_unit.candidate_key = candidates.candidate_key
    where per_unit.is_mandatory_unit or per_unit.is_optional_sat

)

select * from units
