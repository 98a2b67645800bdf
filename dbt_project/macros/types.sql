{#
  Data types of the marts' contracts, valid on DuckDB and PostgreSQL alike.

  Money is numeric(18,4): exact (never float), and fine enough for currencies with three
  decimals (KWD, BHD, ...) and for Humanitix's sub-cent inputs; the contract asks for
  NUMERIC(18,2) or finer.
#}
{% macro money_type() -%} numeric(18,4) {%- endmacro %}

{% macro text_type() -%} varchar {%- endmacro %}

{% macro timestamp_tz_type() -%} timestamp with time zone {%- endmacro %}

{% macro cast_money(expression) -%}
    cast({{ expression }} as {{ money_type() }})
{%- endmacro %}
