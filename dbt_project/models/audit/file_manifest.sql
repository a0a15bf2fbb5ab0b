-- audit.file_manifest: one row per file of the raw folder.
with

files as (

    select * from {{ ref('stg_exports__files') }}

)

select * from files
