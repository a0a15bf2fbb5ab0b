{#- A value of the ref_exam_rules seed, as a scalar subquery (never hard-coded in SQL). -#}
{% macro exam_rule(rule, type='integer') -%}
    (select cast(value as {{ type }}) from {{ ref('ref_exam_rules') }} where rule = '{{ rule }}')
{%- endmacro %}
