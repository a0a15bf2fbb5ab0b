-- Valid rows joined to the reference data: the coefficient, the unit and block, and the points
-- each row brings to the average (integer hundredths; ABJ counts as 0). A view: its one reader,
-- int_candidates_decided, reads it as it goes, cheaper than writing ~20 M rows.
with

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

graded as (

    select
        result_rows.session,
        result_rows.academy_code,
        result_rows.candidate_id,
        result_rows.epreuve_code,
        result_rows.grade_status,
        result_rows.grade_hundredths,
        epreuves.unit_code,
        epreuves.block_code,
        epreuves.coefficient,
        epreuves.is_mandatory,
        statuses.counts_in_average,
        statuses.grade_status in ('NOTE', 'ABJ') as is_assessed_status,
        case
            when statuses.grade_as_zero then 0
            else result_rows.grade_hundredths
        end as points_hundredths

    from result_rows
    inner join epreuves
        on result_rows.epreuve_code = epreuves.epreuve_code
    inner join statuses on result_rows.grade_status = statuses.grade_status

)

select * from graded
