-- audit.quarantine: one row per rejected data row (no personal data, no raw value), with the
-- reason in French and its scope: `file` when the whole file was rejected, `row` when the row
-- was quarantined on its own.
with

quarantined as (

    select * from {{ ref('stg_exports__quarantined_rows') }}

),

reasons as (

    select * from {{ ref('ref_reason_codes') }}

),

files as (

    select * from {{ ref('stg_exports__files') }}

),

academies as (

    select * from {{ ref('ref_academies') }}

),

described as (

    select
        quarantined.file_name,
        quarantined.line_number,
        quarantined.reason_code,
        quarantined.detail,
        reasons.label as reason_label,
        reasons.scope,
        files.session,
        files.academy_code,
        academies.academy_name

    from quarantined
    left join reasons on quarantined.reason_code = reasons.reason_code
    left join files on quarantined.file_name = files.file_name
    left join academies on files.academy_code = academies.academy_code

)

select * from described
