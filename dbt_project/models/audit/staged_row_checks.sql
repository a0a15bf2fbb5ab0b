-- audit.staged_row_checks: rule consistency of the staged rows that were loaded, per file and
-- check, computed where the data is (one set-based pass). Ingest already quarantines these
-- rows, so every count should be 0; the great-expectations suite `staged_rows` gates on it.
with

result_rows as (

    select * from {{ ref('stg_exports__result_rows') }}
    where not is_quarantined

),

epreuves as (

    select * from {{ ref('ref_epreuves') }}

),

categories as (

    select * from {{ ref('ref_candidate_categories') }}

),

academies as (

    select * from {{ ref('ref_academies') }}

),

flagged as (

    select
        result_rows.file_name,
        result_rows.line_number,
        result_rows.grade_hundredths is not null
        and result_rows.grade_hundredths not between 0 and 2000 as grade_out_of_range,
        result_rows.statut not in ('NOTE', 'ABJ', 'AB', 'DI', 'BEN', 'VA') as unknown_statut,
        epreuves.code_epreuve is null as unknown_epreuve,
        categories.candidate_category is null as unknown_category,
        academies.academy_code is null as academy_not_valid_for_session,
        result_rows.forme = 'CCF'
        and not coalesce(epreuves.ccf_possible and categories.ccf_eligible, false)
            as ccf_not_allowed,
        result_rows.statut = 'BEN'
        and (
            result_rows.session - result_rows.origin_session not between 1 and {{ exam_rule('ben_max_age') }}
            or result_rows.grade_hundredths < {{ exam_rule('ben_min_grade') }} * 100
        ) as ben_inconsistent,
        result_rows.statut = 'VA' and not coalesce(categories.is_vae, false) as va_outside_vae,
        count(*) over (
            partition by result_rows.session, result_rows.candidate_key, result_rows.code_epreuve
        ) > 1 as duplicate_candidate_epreuve

    from result_rows
    left join epreuves on result_rows.code_epreuve = epreuves.code_epreuve
    left join categories on result_rows.candidate_category = categories.candidate_category
    left join academies
        on
            result_rows.academy_code = academies.academy_code
            and result_rows.session
            between coalesce(academies.first_session, 0) and coalesce(academies.last_session, 9999)

),

unpivoted as (

    unpivot flagged
    on
        grade_out_of_range,
        unknown_statut,
        unknown_epreuve,
        unknown_category,
        academy_not_valid_for_session,
        ccf_not_allowed,
        ben_inconsistent,
        va_outside_vae,
        duplicate_candidate_epreuve
    into name check_name value is_violation

),

final as (

    select
        file_name,
        check_name,
        count(*) as rows_checked,
        count(*) filter (where is_violation) as violations,
        list(line_number order by line_number) filter (where is_violation)[1:5]::varchar
            as first_lines

    from unpivoted
    group by file_name, check_name

)

select * from final
