{#- A bound of the 95 % Wilson score interval of the rate k / n (warehouse-contract.md,
    "Uncertainty"): centre (k + z²/2) / (n + z²), half-width z·sqrt(k(n−k)/n + z²/4) / (n + z²),
    z the project variable `wilson_z`; in double precision, kept in [0, 1] (rounding at k = 0
    or k = n), NULL when n = 0. -#}
{% macro wilson_bound(k, n, side) -%}
    {%- set z = "cast(" ~ var('wilson_z') ~ " as double)" -%}
    case
        when {{ n }} > 0
            then {{ 'greatest' if side == 'low' else 'least' }}(
                {{ '0.0' if side == 'low' else '1.0' }},
                (
                    ({{ k }} + {{ z }} * {{ z }} / 2.0)
                    {{ '-' if side == 'low' else '+' }} {{ z }} * sqrt(
                        {{ k }} * ({{ n }} - {{ k }}) / cast({{ n }} as double)
                        + {{ z }} * {{ z }} / 4.0
                    )
                ) / ({{ n }} + {{ z }} * {{ z }})
            )
    end
{%- endmacro %}
