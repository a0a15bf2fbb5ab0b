-- One row per candidate number seen by ingest: the integer the rows carry and the keyed hash
-- that is published (the number itself never leaves the raw schema).
with

source as (

    select * from {{ source('exports', 'candidate_keys') }}

),

renamed as (

    select
        candidate_id,
        candidate_key

    from source

)

select * from renamed
