-- One row per data row of a LOADED export, renamed. Ingest typed the values once (grades in
-- exact integer hundredths: no float error at 10.00) and replaced the candidate number by a
-- meaningless integer candidate_id: names, birth dates and numbers stay out of the models.
-- A view: the rows are stored once, by ingest (~20 M at national scale).
with

source as (

    select * from {{ source('exports', 'loaded_rows') }}

),

renamed as (

    select
        file_name,
        line_number,
        session,
        code_academie as academy_code,
        candidate_id,
        nullif(sexe, '') as sex,
        nullif(uai_etablissement, '') as uai_etablissement,
        categorie_candidat as candidate_category,
        code_epreuve as epreuve_code,
        nullif(forme, '') as epreuve_form,
        statut as grade_status,
        note_hundredths as grade_hundredths,
        session_origine as origin_session,
        nullif(decision, '') as reported_decision,
        moyenne_hundredths as reported_average_hundredths,
        reason_code,
        reason_code is not null as is_quarantined

    from source

)

select * from renamed
