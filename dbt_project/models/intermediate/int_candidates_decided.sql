-- depends_on: {{ ref('ref_epreuves') }}
-- The jury's rule recomputed for every complete candidate (domain.md, decision rules), in exact
-- integer arithmetic: sums of coefficient × grade hundredths compared with
-- pass mark × 100 × Σ coefficients. What each status counts as comes from ref_statuses.
-- The same aggregation per candidate also sums each unit's rows (a set of columns per unit of
-- ref_epreuves, see the unit_codes macro), which int_unit_results_unpivoted turns into unit
-- rows; the units' flags are aggregated as bit masks, bit i for the i-th unit (decisions.md:
-- why one aggregation and bit masks).
{%- set unit_list = unit_codes() %}
with

candidates as (

    select * from {{ ref('int_candidates_completeness_checked') }}
    where is_complete

),

result_rows as (

    select * from {{ ref('stg_exports__result_rows') }}
    where not is_quarantined

),

epreuves as (

    select * from {{ ref('ref_epreuves') }}

),

statuses as (

    select * from {{ ref('ref_statuses') }}

),

categories as (

    select * from {{ ref('ref_candidate_categories') }}

),

-- each valid row with its coefficient, unit and block, what its status counts as, and the
-- points it brings (integer hundredths; a status graded as zero brings 0)
graded as (

    select
        result_rows.session,
        result_rows.candidate_id,
        result_rows.grade_hundredths,
        epreuves.unit_code,
        epreuves.block_code,
        epreuves.coefficient,
        epreuves.is_mandatory,
        statuses.counts_in_average,
        statuses.is_sat,
        statuses.is_assessed,
        statuses.is_vae_validated,
        statuses.is_unjustified_absence,
        case
            when statuses.grade_as_zero then 0
            else result_rows.grade_hundredths
        end as points_hundredths,
        cast(1 as ubigint) << case epreuves.unit_code
            {%- for unit in unit_list %}
                when '{{ unit }}' then {{ loop.index0 }}
            {%- endfor %}
        end as unit_bit

    from result_rows
    inner join epreuves on result_rows.epreuve_code = epreuves.epreuve_code
    inner join statuses on result_rows.grade_status = statuses.grade_status

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
        -- only the points above the pass mark of an optional épreuve sat count
        coalesce(
            sum(greatest(grade_hundredths - {{ exam_rule('pass_mark') }} * 100, 0))
            filter (where not is_mandatory and is_sat),
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
        bool_or(is_sat) as has_note,
        bool_or(is_mandatory and is_unjustified_absence) as has_unjustified_absence,
        -- the units with a row, and those where a row is not assessed, not validated by VAE,
        -- optional, or an optional épreuve sat
        bit_or(unit_bit) as units_with_rows,
        bit_or(case when not is_assessed then unit_bit else 0 end) as units_not_assessed,
        bit_or(case when not is_vae_validated then unit_bit else 0 end) as units_not_vae_validated,
        bit_or(case when not is_mandatory then unit_bit else 0 end) as units_optional,
        bit_or(case when not is_mandatory and is_sat then unit_bit else 0 end)
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
        -- the cases in the order of domain.md: the first that applies wins
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
