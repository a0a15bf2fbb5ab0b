-- Valid rows joined to the reference data: the coefficient, the unit and block, and the points
-- each row brings to the average (integer hundredths; ABJ counts as 0). A view: its two readers
-- (int_candidates_decided, fct_unit_result) read it as they go, cheaper than writing ~20 M rows.
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

epreuves_with_unit_size as (

    select
        *,
        count(*) over (partition by unit_code) as unit_epreuves

    from epreuves

),

graded as (

    select
        result_rows.session,
        result_rows.academy_code,
        result_rows.candidate_id,
        result_rows.code_epreuve,
        result_rows.statut,
        result_rows.grade_hundredths,
        epreuves_with_unit_size.unit_code,
        epreuves_with_unit_size.block_code,
        epreuves_with_unit_size.coefficient,
        epreuves_with_unit_size.is_mandatory,
        epreuves_with_unit_size.unit_epreuves,
        statuses.counts_in_average,
        statuses.statut in ('NOTE', 'ABJ') as is_assessed_status,
        case
            when statuses.grade_as_zero then 0
            else result_rows.grade_hundredths
        end as points_hundredths

    from result_rows
    inner join epreuves_with_unit_size
        on result_rows.code_epreuve = epreuves_with_unit_size.code_epreuve
    inner join statuses on result_rows.statut = statuses.statut

)

select * from graded
