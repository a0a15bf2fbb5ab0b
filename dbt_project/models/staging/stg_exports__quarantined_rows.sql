-- One row per rejected data row; the raw candidate number stays behind.
with

source as (

    select * from {{ source('exports', 'quarantine') }}

),

renamed as (

    select
        file_name,
        line_number,
        reason_code,
        detail

    from source

)

select * from renamed
