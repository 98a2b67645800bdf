{#
  The few places where DuckDB and PostgreSQL SQL differ, behind adapter.dispatch so models stay
  identical on both warehouses.
#}

{# Integer division truncating toward zero (operands are non-negative where it is used). #}
{% macro int_div(numerator, denominator) -%}
    {{ return(adapter.dispatch('int_div', 'ticketing')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__int_div(numerator, denominator) -%}
    div(cast({{ numerator }} as bigint), cast({{ denominator }} as bigint))
{%- endmacro %}

{% macro duckdb__int_div(numerator, denominator) -%}
    (cast({{ numerator }} as bigint) // cast({{ denominator }} as bigint))
{%- endmacro %}

{# A deterministic text key from several columns (md5 exists on both warehouses). #}
{% macro hash_key(columns) -%}
    md5(
        {%- for column in columns %}
        coalesce(cast({{ column }} as {{ text_type() }}), '~')
        {%- if not loop.last %} || '|' || {% endif -%}
        {%- endfor %}
    )
{%- endmacro %}

{# The local calendar date of a UTC timestamp in an IANA time zone. #}
{% macro local_date(timestamp, timezone) -%}
    cast(({{ timestamp }}) at time zone coalesce({{ timezone }}, 'UTC') as date)
{%- endmacro %}

{# 'YYYY-MM-DD HH:MI' wall-clock text of a UTC timestamp in an IANA time zone. #}
{% macro local_datetime_label(timestamp, timezone) -%}
    {{ return(adapter.dispatch('local_datetime_label', 'ticketing')(timestamp, timezone)) }}
{%- endmacro %}

{% macro default__local_datetime_label(timestamp, timezone) -%}
    to_char(({{ timestamp }}) at time zone coalesce({{ timezone }}, 'UTC'), 'YYYY-MM-DD HH24:MI')
{%- endmacro %}

{% macro duckdb__local_datetime_label(timestamp, timezone) -%}
    strftime(({{ timestamp }}) at time zone coalesce({{ timezone }}, 'UTC'), '%Y-%m-%d %H:%M')
{%- endmacro %}

{# A dlt load id (epoch seconds as text) -> timestamp with time zone. #}
{% macro epoch_text_to_timestamp(expression) -%}
    to_timestamp(cast({{ expression }} as double precision))
{%- endmacro %}

{# Does `expression` match the POSIX regular expression `pattern`? #}
{% macro matches_regex(expression, pattern) -%}
    {{ return(adapter.dispatch('matches_regex', 'ticketing')(expression, pattern)) }}
{%- endmacro %}

{% macro default__matches_regex(expression, pattern) -%}
    (({{ expression }}) ~ '{{ pattern }}')
{%- endmacro %}

{% macro duckdb__matches_regex(expression, pattern) -%}
    regexp_full_match({{ expression }}, '{{ pattern }}')
{%- endmacro %}
