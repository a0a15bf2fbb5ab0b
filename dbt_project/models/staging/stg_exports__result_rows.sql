-- One row per data row of a LOADED export: renamed and typed; names, birth dates and raw
-- candidate numbers are left behind in the raw schema (only the keyed candidate_key goes on).
with

source as (

    select * from {{ source('exports', 'current_rows') }}

),

renamed as (

    select
        file_name,
        line_number,
        try_cast(session as integer) as session,
        code_academie as academy_code,
        candidate_key,
        nullif(sexe, '') as sex,
        nullif(uai_etablissement, '') as uai_etablissement,
        categorie_candidat as candidate_category,
        code_epreuve,
        nullif(forme, '') as forme,
        statut,
        -- grades are exact integer hundredths: no float error at 10.00
        cast(
            round(try_cast(replace(note, ',', '.') as decimal(18, 6)) * 100) as integer
        ) as grade_hundredths,
        try_cast(nullif(session_origine, '') as integer) as origin_session,
        nullif(decision, '') as reported_decision,
        cast(
            round(try_cast(replace(moyenne, ',', '.') as decimal(18, 6)) * 100) as integer
        ) as reported_average_hundredths,
        reason_code,
        reason_code is not null as is_quarantined

    from source

)

select * from renamed
