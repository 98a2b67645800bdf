{#
  Largest-remainder allocation of an order-level amount over the order's lines, in integer
  minor units, so that the lines' shares add up to the amount exactly (no cent lost or invented).

  Each line gets floor(|amount| * weight / total weight); the units still missing go, one each,
  to the lines with the largest remainders (ties: the smaller line key). Orders whose weights
  are all zero split equally. The sign of the amount is applied last.

  Used as two consecutive CTE columns:
    allocation_floor(...)      -> <name>_floor, <name>_remainder   (needs no window of its own)
    allocation_share(...)      -> the line's share, from the floors of the previous CTE
#}

{% macro allocation_floor(name, amount, weight, total_weight, line_count) -%}
    {%- set units = 'abs(' ~ amount ~ ')' -%}
    {%- set eff_weight = 'case when ' ~ total_weight ~ ' > 0 then ' ~ weight ~ ' else 1 end' -%}
    {%- set eff_total = 'case when ' ~ total_weight ~ ' > 0 then ' ~ total_weight ~ ' else ' ~ line_count ~ ' end' -%}
        {{ int_div(units ~ ' * (' ~ eff_weight ~ ')', eff_total) }} as {{ name }}_floor,
        mod(cast({{ units }} * ({{ eff_weight }}) as bigint), cast({{ eff_total }} as bigint))
            as {{ name }}_remainder
{%- endmacro %}

{% macro allocation_share(name, amount, partition_by, line_key) -%}
    (
        {{ name }}_floor
        + case
            when row_number() over (
                partition by {{ partition_by }}
                order by {{ name }}_remainder desc, {{ line_key }}
            ) <= abs({{ amount }}) - sum({{ name }}_floor) over (partition by {{ partition_by }})
            then 1
            else 0
        end
    ) * (case when {{ amount }} < 0 then -1 else 1 end)
{%- endmacro %}
