{#- The dbt package hub is unreachable here: the few generic tests we need, as project macros. -#}

{% test accepted_range(model, column_name, min_value=none, max_value=none) %}
select *
from {{ model }}
where {{ column_name }} is not null
  and (
    false
    {%- if min_value is not none %} or {{ column_name }} < {{ min_value }}{% endif %}
    {%- if max_value is not none %} or {{ column_name }} > {{ max_value }}{% endif %}
  )
{% endtest %}

{% test expression_is_true(model, expression) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}

{#- few_per_group: the last column takes few values in each group of the others (units of a
    candidate). A first pass per group of the other columns keeps the groups that may hold a
    duplicate (one bit per value, by hash: a shared bit adds a group, never misses one); the
    exact count runs on those rows only, not on a hash table of every combination. -#}
{#- dense_last: the last column is an integer dense in each group of the others (line numbers
    of a file). A first pass per group and block of 64 consecutive values keeps the blocks that
    may hold a duplicate (each value of a block has a bit of its own: exact, a duplicate always
    shows), ~64 times fewer groups than the combinations; the exact count runs on those rows. -#}
{% test unique_combination(model, combination, few_per_group=false, dense_last=false) %}
{%- if dense_last %}
{%- set leading = combination[:-1] %}
{%- set last = combination[-1] %}
with

blocks_to_check as (
    select {{ leading | join(', ') }}, {{ last }} // 64 as block
    from {{ model }}
    group by {{ leading | join(', ') }}, {{ last }} // 64
    having count(*) > coalesce(bit_count(bit_or(cast(1 as ubigint) << ((({{ last }} % 64) + 64) % 64))), 0)
),

rows_to_check as (
    select checked.*
    from {{ model }} as checked
    inner join blocks_to_check
        on {% for column in leading %}checked.{{ column }} is not distinct from blocks_to_check.{{ column }} and {% endfor %}checked.{{ last }} // 64 is not distinct from blocks_to_check.block
)

select {{ combination | join(', ') }}, count(*) as n
from rows_to_check
group by {{ combination | join(', ') }}
having count(*) > 1
{%- elif few_per_group %}
{%- set leading = combination[:-1] %}
with

groups_to_check as (
    select {{ leading | join(', ') }}
    from {{ model }}
    group by {{ leading | join(', ') }}
    having count(*) > bit_count(bit_or(cast(1 as ubigint) << (hash({{ combination[-1] }}) % 64)))
),

rows_to_check as (
    select checked.*
    from {{ model }} as checked
    inner join groups_to_check
        on {% for column in leading %}checked.{{ column }} is not distinct from groups_to_check.{{ column }}{% if not loop.last %} and {% endif %}{% endfor %}
)

select {{ combination | join(', ') }}, count(*) as n
from rows_to_check
group by {{ combination | join(', ') }}
having count(*) > 1
{%- else %}
select {{ combination | join(', ') }}, count(*) as n
from {{ model }}
group by {{ combination | join(', ') }}
having count(*) > 1
{%- endif %}
{% endtest %}
