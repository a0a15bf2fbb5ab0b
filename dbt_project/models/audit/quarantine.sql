-- audit.quarantine: one row per rejected data row (no personal data).
with

quarantined as (

    select * from {{ ref('stg_exports__quarantined_rows') }}

)

select
    file_name,
    line_number,
    reason_code,
    detail
from quarantined
