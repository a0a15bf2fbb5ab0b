{#- A file name as it may be published (warehouse-contract.md, audit.file_manifest): every
    character outside A–Z a–z 0–9 _ . - percent-encoded as its UTF-8 bytes, so that no published
    text carries markup a dashboard could render (DuckDB's url_encode leaves `~` as it is). -#}
{% macro published_name(column) -%}
    replace(url_encode({{ column }}), '~', '%7E')
{%- endmacro %}
