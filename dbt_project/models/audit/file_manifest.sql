-- audit.file_manifest: one row per file of the raw folder.
with

files as (

    select * from {{ ref('stg_exports__files') }}

)

select
    file_name,
    sha256,
    session,
    academy_code,
    exported_at,
    status,
    rows_total,
    rows_loaded,
    rows_quarantined,
    reason
from files
