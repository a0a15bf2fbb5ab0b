-- One row per session × complete candidate × unit (U1–U6; UF1 when the optional épreuve was
-- sat): unit grade (U5: coefficient-weighted E5A/E5B), assessed, acquired, validated by VAE,
-- under the published keyed hash candidate_key; written once, here (no intermediate copy of
-- the ~17 M unit rows of a national rebuild).
-- A unit of one épreuve is that épreuve's row: only the rows of units of several épreuves, and
-- every row of a candidate who may have an épreuve twice, are grouped (not ~17 M groups of one
-- row). Each CTE reads the rows once so that DuckDB streams them (profiles.yml turns off
-- DuckDB's common_subplan optimizer, which would materialise the rows these reads share):
-- own_unit_rows_to_group repeats own_unit_rows on purpose. Joining every row to all complete
-- candidates and filtering afterwards reads less SQL but measured 12.7 s against 7.1 s here
-- (10 M rows): the few candidates who may repeat an épreuve make a small hash table.

with

own_unit_rows as (

    select * from {{ ref('int_result_rows_graded') }}
    where unit_epreuves = 1

),

shared_unit_rows as (

    select * from {{ ref('int_result_rows_graded') }}
    where unit_epreuves is distinct from 1

),

own_unit_rows_to_group as (

    select * from {{ ref('int_result_rows_graded') }}
    where unit_epreuves = 1

),

-- complete candidates, and among them those whose every row is grouped (an épreuve may be on
-- two of their rows) or not
candidates as (

    select * from {{ ref('int_candidates_identified') }}
    where is_complete

),

candidates_without_repeat as (

    select * from {{ ref('int_candidates_identified') }}
    where is_complete and may_repeat_an_epreuve is false

),

candidates_with_repeat as (

    select * from {{ ref('int_candidates_identified') }}
    where is_complete and may_repeat_an_epreuve is not false

),

single_epreuve_units as (

    select
        candidates_without_repeat.session,
        candidates_without_repeat.academy_code,
        candidates_without_repeat.candidate_id,
        candidates_without_repeat.candidate_category,
        own_unit_rows.unit_code,
        own_unit_rows.block_code,
        own_unit_rows.is_assessed_status as is_assessed,
        own_unit_rows.statut = 'VA' as is_vae_validated,
        not own_unit_rows.is_mandatory and own_unit_rows.statut = 'NOTE' as is_optional_sat,
        own_unit_rows.is_mandatory as is_mandatory_unit,
        -- weights: the coefficients, or 1 each for an uncoefficiented (optional) épreuve
        greatest(own_unit_rows.coefficient, 1) as weight,
        greatest(own_unit_rows.coefficient, 1) * own_unit_rows.points_hundredths as weighted_points

    from own_unit_rows
    inner join candidates_without_repeat
        on
            own_unit_rows.session = candidates_without_repeat.session
            and own_unit_rows.candidate_id = candidates_without_repeat.candidate_id

),

-- the rows of units of several épreuves, and the others of the candidates who may repeat one
rows_to_group as (

    select
        candidates.session,
        candidates.academy_code,
        candidates.candidate_id,
        candidates.candidate_category,
        shared_unit_rows.unit_code,
        shared_unit_rows.block_code,
        shared_unit_rows.is_assessed_status,
        shared_unit_rows.statut,
        shared_unit_rows.is_mandatory,
        shared_unit_rows.coefficient,
        shared_unit_rows.points_hundredths

    from shared_unit_rows
    inner join candidates
        on
            shared_unit_rows.session = candidates.session
            and shared_unit_rows.candidate_id = candidates.candidate_id

    union all

    select
        candidates_with_repeat.session,
        candidates_with_repeat.academy_code,
        candidates_with_repeat.candidate_id,
        candidates_with_repeat.candidate_category,
        own_unit_rows_to_group.unit_code,
        own_unit_rows_to_group.block_code,
        own_unit_rows_to_group.is_assessed_status,
        own_unit_rows_to_group.statut,
        own_unit_rows_to_group.is_mandatory,
        own_unit_rows_to_group.coefficient,
        own_unit_rows_to_group.points_hundredths

    from own_unit_rows_to_group
    inner join candidates_with_repeat
        on
            own_unit_rows_to_group.session = candidates_with_repeat.session
            and own_unit_rows_to_group.candidate_id = candidates_with_repeat.candidate_id

),

grouped_units as (

    select
        session,
        academy_code,
        candidate_id,
        candidate_category,
        unit_code,
        min(block_code) as block_code,
        bool_and(is_assessed_status) as is_assessed,
        bool_and(statut = 'VA') as is_vae_validated,
        bool_or(not is_mandatory and statut = 'NOTE') as is_optional_sat,
        bool_and(is_mandatory) as is_mandatory_unit,
        sum(greatest(coefficient, 1)) as weight,
        sum(greatest(coefficient, 1) * points_hundredths) as weighted_points

    from rows_to_group
    group by session, academy_code, candidate_id, candidate_category, unit_code

),

per_unit as (

    select * from single_epreuve_units
    union all
    select * from grouped_units

),

units as (

    select
        session,
        academy_code,
        candidate_id,
        candidate_category,
        unit_code,
        block_code,
        is_assessed,
        case
            when is_assessed then weighted_points / weight / 100.0
        end as unit_grade,
        is_assessed
        and weighted_points >= {{ exam_rule('pass_mark') }} * 100 * weight as is_acquired,
        is_vae_validated

    from per_unit
    where is_mandatory_unit or is_optional_sat

),

keys as (

    select * from {{ ref('stg_exports__candidates') }}

),

categories as (

    select * from {{ ref('ref_candidate_categories') }}

),

final as (

    select
        units.session,
        units.academy_code,
        keys.candidate_key,
        units.candidate_category,
        categories.access_route,
        units.unit_code,
        units.block_code,
        cast(units.unit_grade as double) as unit_grade,
        units.is_assessed,
        units.is_acquired,
        units.is_vae_validated

    from units
    inner join keys on units.candidate_id = keys.candidate_id
    inner join categories on units.candidate_category = categories.candidate_category

)

select * from final
