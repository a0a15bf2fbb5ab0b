-- The jury's rule recomputed for every complete candidate (domain.md, decision rules), in exact
-- integer arithmetic: sums of coefficient × hundredths compared with pass mark × 100 × Σcoef.
with

candidates as (

    select * from {{ ref('int_candidates_identified') }}
    where is_complete

),

graded as (

    select * from {{ ref('int_result_rows_graded') }}

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
            filter (where not is_mandatory and statut = 'NOTE'),
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
        bool_or(statut = 'NOTE') as has_note,
        bool_or(is_mandatory and statut = 'AB') as has_unjustified_absence

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
        end as decision

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
