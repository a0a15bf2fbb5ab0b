-- One row per file of the raw folder and its status (LOADED, SUPERSEDED, DUPLICATE, REJECTED),
-- its name percent-encoded for publication, the reason as a code and its detail.
with

source as (

    select * from {{ source('exports', 'file_manifest') }}

),

renamed as (

    select
        {{ published_name('file_name') }} as file_name,
        sha256,
        session,
        academy_code,
        exported_at,
        status,
        rows_total,
        rows_loaded,
        rows_quarantined,
        reason_code,
        reason_detail,
        {{ published_name('related_file_name') }} as related_file_name

    from source

)

select * from renamed
