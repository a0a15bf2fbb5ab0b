-- depends_on: {{ ref('ref_epreuves') }}
-- The jury's rule recomputed for every complete candidate (domain.md, decision rules), in exact
-- integer arithmetic: sums of coefficient × hundredths compared with pass mark × 100 × Σcoef.
-- The same single aggregation per candidate also sums each unit's rows (one set of columns per
-- unit of ref_epreuves, see the unit_codes macro), which int_unit_results_unpivoted turns into
-- unit rows: the ~20 M rows are read once for the decision and the units, not once for each.
-- The units' flags are aggregated as five bit masks (bit i for the i-th unit of unit_codes; at
-- most 64 units), not as four filtered aggregates per unit: 5.7 s against 8.4 s at 20 M rows.
{%- set unit_list = unit_codes() %}
with

candidates as (

    select * from {{ ref('int_candidates_identified') }}
    where is_complete

),

graded as (

    select
        *,
        cast(1 as ubigint) << case unit_code
            {%- for unit in unit_list %}
                when '{{ unit }}' then {{ loop.index0 }}
            {%- endfor %}
        end as unit_bit

    from {{ ref('int_result_rows_graded') }}

),

categories as (

    select * from {{ ref('ref_candidate_categories') }}

),

sums as (

    select
        session,
        candidate_id,
        coalesce(sum(coefficient) filter (where is_mandatory and counts_in_average), 0)
            as weight,
        coalesce(
            sum(coefficient * points_hundredths)
            filter (where is_mandatory and counts_in_average),
            0
        ) as weighted_points,
        coalesce(
            sum(greatest(grade_hundredths - {{ exam_rule('pass_mark') }} * 100, 0))
            filter (where not is_mandatory and grade_status = 'NOTE'),
            0
        ) as optional_bonus,
        coalesce(
            sum(coefficient)
            filter (where is_mandatory and counts_in_average and block_code is not null),
            0
        ) as professional_weight,
        coalesce(
            sum(coefficient * points_hundredths)
            filter (where is_mandatory and counts_in_average and block_code is not null),
            0
        ) as professional_points,
        bool_or(grade_status = 'NOTE') as has_note,
        bool_or(is_mandatory and grade_status = 'AB') as has_unjustified_absence,
        -- the units with a row, and those where a row is not assessed, not validated by VAE,
        -- optional, or an optional épreuve sat
        bit_or(unit_bit) as units_with_rows,
        bit_or(case when not is_assessed_status then unit_bit else 0 end) as units_not_assessed,
        bit_or(case when grade_status <> 'VA' then unit_bit else 0 end) as units_not_vae_validated,
        bit_or(case when not is_mandatory then unit_bit else 0 end) as units_optional,
        bit_or(case when not is_mandatory and grade_status = 'NOTE' then unit_bit else 0 end)
            as units_optional_sat,
        -- per unit: its weights (coefficients, or 1 each for an uncoefficiented optional
        -- épreuve) and weighted points; NULL when the candidate has no row of it
        {%- for unit in unit_list %}
            sum(greatest(coefficient, 1)) filter (where unit_code = '{{ unit }}')
                as {{ unit | lower }}_weight,
            sum(greatest(coefficient, 1) * points_hundredths) filter (where unit_code = '{{ unit }}')
                as {{ unit | lower }}_points{% if not loop.last %},{% endif %}
        {%- endfor %}

    from graded
    group by session, candidate_id

),

decided as (

    select
        candidates.session,
        candidates.candidate_id,
        candidates.academy_code,
        candidates.candidate_category,
        categories.is_vae,
        sums.weight,
        sums.weighted_points + sums.optional_bonus as total_points,
        sums.has_note or categories.is_vae as is_present,
        case
            when not sums.has_note and not categories.is_vae then 'ABSENT'
            when sums.has_unjustified_absence then 'REFUSE'
            when sums.weight = 0 then 'ADMIS'
            when
                sums.weighted_points + sums.optional_bonus
                >= {{ exam_rule('pass_mark') }} * 100 * sums.weight then 'ADMIS'
            when
                candidates.session >= {{ exam_rule('controle_first_session') }}
                and sums.weighted_points + sums.optional_bonus
                >= {{ exam_rule('controle_min_average') }} * 100 * sums.weight
                and sums.professional_weight > 0
                and sums.professional_points
                >= {{ exam_rule('pass_mark') }} * 100 * sums.professional_weight
                then 'CONTROLE'
            else 'REFUSE'
        end as decision,
        {%- for unit in unit_list %}
            {%- set u = unit | lower %}
            {%- set bit = "(cast(1 as ubigint) << " ~ loop.index0 ~ ")" %}
            {%- set has_rows = "(sums.units_with_rows & " ~ bit ~ ") <> 0" %}
            -- unit {{ unit }}: every row assessed, every row validated by VAE, every row mandatory,
            -- one row an optional épreuve sat (all false when the candidate has no row of it)
            sums.{{ u }}_weight,
            sums.{{ u }}_points,
            {{ has_rows }} and (sums.units_not_assessed & {{ bit }}) = 0 as {{ u }}_is_assessed,
            {{ has_rows }} and (sums.units_not_vae_validated & {{ bit }}) = 0
                as {{ u }}_is_vae_validated,
            {{ has_rows }} and (sums.units_optional & {{ bit }}) = 0 as {{ u }}_is_mandatory,
            (sums.units_optional_sat & {{ bit }}) <> 0 as {{ u }}_is_optional_sat
            {%- if not loop.last %},{% endif %}
        {%- endfor %}

    from candidates
    inner join sums
        on candidates.session = sums.session and candidates.candidate_id = sums.candidate_id
    inner join categories on candidates.candidate_category = categories.candidate_category

),

averaged as (

    select
        *,
        case when weight > 0 then total_points / weight / 100.0 end as computed_average,
        -- half up to 2 decimals, in integers: floor((2·points + weight) / (2·weight))
        case
            when weight > 0 then (2 * total_points + weight) // (2 * weight)
        end as computed_average_hundredths

    from decided

)

select * from averaged
