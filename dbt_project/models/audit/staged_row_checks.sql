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

statuses as (

    select * from {{ ref('ref_statuses') }}

),

forms as (

    select * from {{ ref('ref_exam_forms') }}

),

-- an épreuve on two rows of one candidate is counted on the rows of the candidates that
-- int_candidates_completeness_checked flags (every candidate with a repeated épreuve is flagged) and on
-- the rows without a candidate key, not by a window over every row; each CTE is read once, so
-- that DuckDB streams the rows rather than materialising them
keyed_rows as (

    select * from {{ ref('stg_exports__result_rows') }}
    where not is_quarantined and candidate_id is not null

),

rows_without_key as (

    select * from {{ ref('stg_exports__result_rows') }}
    where not is_quarantined and candidate_id is null

),

flagged_candidates as (

    select * from {{ ref('int_candidates_completeness_checked') }}
    where may_repeat_an_epreuve

),

rows_to_count as (

    select keyed_rows.*
    from keyed_rows
    inner join flagged_candidates
        on
            keyed_rows.session is not distinct from flagged_candidates.session
            and keyed_rows.candidate_id = flagged_candidates.candidate_id

    union all

    select * from rows_without_key

),

repeated as (

    select
        file_name,
        line_number,
        count(*) over (partition by session, candidate_id, epreuve_code) > 1 as is_repeated

    from rows_to_count

),

flagged as (

    select
        result_rows.file_name,
        result_rows.line_number,
        result_rows.grade_hundredths is not null
        and result_rows.grade_hundredths not between 0 and 2000 as grade_out_of_range,
        statuses.grade_status is null as unknown_statut,
        epreuves.epreuve_code is null as unknown_epreuve,
        categories.candidate_category is null as unknown_category,
        academies.academy_code is null as invalid_academy,
        coalesce(forms.is_ccf, false)
        and not coalesce(epreuves.ccf_possible and categories.ccf_eligible, false)
            as ccf_not_allowed,
        coalesce(statuses.is_kept_grade, false)
        and (
            result_rows.session
            - result_rows.origin_session not between 1 and {{ exam_rule('ben_max_age') }}
            or result_rows.grade_hundredths < {{ exam_rule('ben_min_grade') }} * 100
        ) as ben_inconsistent,
        coalesce(statuses.vae_only, false)
        and not coalesce(categories.is_vae, false) as va_outside_vae,
        coalesce(repeated.is_repeated, false) as duplicate_epreuve

    from result_rows
    left join epreuves on result_rows.epreuve_code = epreuves.epreuve_code
    left join categories on result_rows.candidate_category = categories.candidate_category
    left join statuses on result_rows.grade_status = statuses.grade_status
    left join forms on result_rows.epreuve_form = forms.epreuve_form
    left join academies
        on
            result_rows.academy_code = academies.academy_code
            and result_rows.session
            between coalesce(academies.first_session, 0) and coalesce(academies.last_session, 9999)
    left join repeated
        on
            result_rows.file_name = repeated.file_name
            and result_rows.line_number = repeated.line_number

),

-- aggregate first (one row per file), then unpivot the few aggregates
{%- set checks = [
    'grade_out_of_range', 'unknown_statut', 'unknown_epreuve', 'unknown_category',
    'invalid_academy', 'ccf_not_allowed', 'ben_inconsistent', 'va_outside_vae',
    'duplicate_epreuve',
] %}
per_file as (

    select
        file_name,
        {% for check in checks %}
            count(*) filter (where {{ check }}) as {{ check }}_violations,
            coalesce(
                list(line_number order by line_number) filter (where {{ check }})[1:5]::varchar, '[]'
            ) as {{ check }}_first_lines,
        {% endfor %}
        count(*) as rows_checked

    from flagged
    group by file_name

),

final as (

    -- noqa: disable=LT02,LT05
    unpivot per_file
    on
        {% for check in checks %}
        ({{ check }}_violations, {{ check }}_first_lines) as {{ check }}{% if not loop.last %},{% endif %}
        {% endfor %}
    into name check_name value violations, first_lines
    -- noqa: enable=LT02,LT05

)

select
    file_name,
    check_name,
    rows_checked,
    violations,
    first_lines
from final
