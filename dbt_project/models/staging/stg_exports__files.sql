-- One row per file of the raw folder and its status (LOADED, SUPERSEDED, DUPLICATE, REJECTED).
with

source as (

    select * from {{ source('exports', 'file_manifest') }}

),

renamed as (

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

    from source

)

select * from renamed
