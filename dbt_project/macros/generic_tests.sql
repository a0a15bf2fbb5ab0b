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

{#- unique_combination: no two rows share the values of `combination`. Two cheaper exact
    variants first keep the groups of rows that may hold a duplicate, with one bit per value of
    the last column in each group (a group with more rows than bits set may hold one; a group
    where every row has its own bit cannot), then count exactly on those rows only, not on a
    hash table of every combination:
    - few_per_group: the last column takes few values per group of the others (units of a
      candidate); the bit is a hash of the value (a shared bit adds a group, never misses one);
    - dense_last: the last column is an integer dense per group of the others (line numbers of
      a file); groups are also cut in blocks of 64 consecutive values, each value with its own
      bit: ~64 times fewer groups than combinations. -#}
{% test unique_combination(model, combination, few_per_group=false, dense_last=false) %}
{%- if few_per_group or dense_last %}
{%- set leading = combination[:-1] %}
{%- set last = combination[-1] %}
{%- set bit = "(((" ~ last ~ " % 64) + 64) % 64)" if dense_last else "(hash(" ~ last ~ ") % 64)" %}
with

groups_to_check as (
    select {{ leading | join(', ') }}{% if dense_last %}, {{ last }} // 64 as block{% endif %}
    from {{ model }}
    group by {{ leading | join(', ') }}{% if dense_last %}, {{ last }} // 64{% endif %}
    having count(*) > coalesce(bit_count(bit_or(cast(1 as ubigint) << {{ bit }})), 0)
),

rows_to_check as (
    select checked.*
    from {{ model }} as checked
    inner join groups_to_check
        on {% for column in leading %}checked.{{ column }} is not distinct from groups_to_check.{{ column }}{% if not loop.last %} and {% endif %}{% endfor %}
        {%- if dense_last %} and checked.{{ last }} // 64 is not distinct from groups_to_check.block{% endif %}
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

{#- sum_of: every row of `model` equals the sum of `source` over `group_by` (the counts in
    `columns`), and no group of `source` is missing from `model` (a count mart is a sum of a
    finer one). -#}
{% test sum_of(model, source, group_by, columns) %}
with

expected as (
    select {{ group_by | join(', ') }},
        {% for c in columns %}sum({{ c }}) as {{ c }}{% if not loop.last %}, {% endif %}{% endfor %}
    from {{ source }}
    group by {{ group_by | join(', ') }}
),

actual as (
    select {{ group_by | join(', ') }}, {{ columns | join(', ') }}
    from {{ model }}
)

select
    {% for g in group_by %}coalesce(expected.{{ g }}, actual.{{ g }}) as {{ g }}, {% endfor %}
    {% for c in columns %}expected.{{ c }} as expected_{{ c }}, actual.{{ c }} as actual_{{ c }}{% if not loop.last %}, {% endif %}{% endfor %}
from expected
full outer join actual
    on {% for g in group_by %}expected.{{ g }} is not distinct from actual.{{ g }}{% if not loop.last %} and {% endif %}{% endfor %}
where {% for c in columns %}expected.{{ c }} is distinct from actual.{{ c }}{% if not loop.last %} or {% endif %}{% endfor %}
{% endtest %}
