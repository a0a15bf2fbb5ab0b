-- audit.file_manifest: one row per file of the raw folder, with its status and reason in
-- French (labels and hints from the reference seeds) for the data-quality dashboard.
with

files as (

    select * from {{ ref('stg_exports__files') }}

),

statuses as (

    select * from {{ ref('ref_file_statuses') }}

),

reasons as (

    select * from {{ ref('ref_reason_codes') }}

),

academies as (

    select * from {{ ref('ref_academies') }}

),

described as (

    select
        files.file_name,
        files.sha256,
        files.session,
        files.academy_code,
        files.exported_at,
        files.status,
        files.rows_total,
        files.rows_loaded,
        files.rows_quarantined,
        case
            when files.reason_code is not null
                then files.reason_code || ': ' || coalesce(files.reason_detail, reasons.label)
            when files.status = 'DUPLICATE'
                then 'mêmes octets que ' || files.related_file_name
            when files.status = 'SUPERSEDED'
                then 'remplacé par ' || files.related_file_name
        end as reason,
        files.reason_code,
        statuses.file_status_label as status_label,
        reasons.label as reason_label,
        reasons.hint,
        academies.academy_name

    from files
    left join statuses on files.status = statuses.file_status
    left join reasons on files.reason_code = reasons.reason_code
    left join academies on files.academy_code = academies.academy_code

)

select * from described
