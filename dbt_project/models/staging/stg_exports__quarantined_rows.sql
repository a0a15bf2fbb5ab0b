-- One row per rejected data row: the file (name percent-encoded for publication), the physical
-- line, the reason code and its detail (column and rule, never a value); the candidate number
-- stays behind.
with

source as (

    select * from {{ source('exports', 'quarantine') }}

),

renamed as (

    select
        {{ published_name('file_name') }} as file_name,
        line_number,
        reason_code,
        detail

    from source

)

select * from renamed
