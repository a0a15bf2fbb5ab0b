{#- The units of the diploma (ref_epreuves.unit_code), read from the seed when the SQL is compiled:
    int_candidates_decided sums each unit's rows in its one aggregation per candidate (a pair of
    columns per unit) and fct_unit_result turns those columns back into rows. The models that
    call it declare `-- depends_on: ref('ref_epreuves')`, so the seed is built first; unit tests
    give the list with `overrides: macros: {unit_codes: [...]}`. Outside execution (parsing) the
    list is empty. -#}
{% macro unit_codes() -%}
    {%- if execute -%}
        {%- set query -%}
            select distinct unit_code from {{ ref('ref_epreuves') }} order by unit_code
        {%- endset -%}
        {{ return(run_query(query).columns[0].values() | list) }}
    {%- else -%}
        {{ return([]) }}
    {%- endif -%}
{%- endmacro %}
