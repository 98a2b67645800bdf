{#
  ISO 4217 minor-unit exponents. Eventbrite sends money as integer minor units; the number of
  minor units per major unit depends on the currency (JPY has none, KWD has 1000).
  Keep in sync with ticketing_pipeline/money.py.
#}
{% macro zero_decimal_currencies() -%}
    ('BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND',
     'VUV', 'XAF', 'XOF', 'XPF')
{%- endmacro %}

{% macro three_decimal_currencies() -%}
    ('BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND')
{%- endmacro %}

{# Minor units per major unit: 1, 100 or 1000 (an integer). #}
{% macro currency_minor_units(currency) -%}
    (case
        when upper({{ currency }}) in {{ zero_decimal_currencies() }} then 1
        when upper({{ currency }}) in {{ three_decimal_currencies() }} then 1000
        else 100
    end)
{%- endmacro %}

{# The size of one minor unit in major units, as an exact decimal: 1, 0.01 or 0.001. #}
{% macro minor_unit_size(currency) -%}
    (case
        when upper({{ currency }}) in {{ zero_decimal_currencies() }} then 1.000
        when upper({{ currency }}) in {{ three_decimal_currencies() }} then 0.001
        else 0.010
    end)
{%- endmacro %}

{#
  Integer minor units -> exact major units. Multiplies by an exact decimal factor instead of
  dividing: DuckDB turns decimal division into DOUBLE, which is never acceptable for money.
  `unit_size` may name a column already holding minor_unit_size(currency) (computed once per
  row when a row has many amounts).
#}
{% macro minor_to_major(amount, currency, unit_size=none) -%}
    cast(
        cast({{ amount }} as numeric(20, 0))
        * {{ unit_size if unit_size else minor_unit_size(currency) }}
        as {{ money_type() }}
    )
{%- endmacro %}

{# Exact major units -> integer minor units (exact for values with at most that many decimals). #}
{% macro major_to_minor(amount, currency) -%}
    cast(round(cast({{ amount }} as numeric(20, 4)) * {{ currency_minor_units(currency) }}, 0) as bigint)
{%- endmacro %}

{# A currency code normalized for grouping: trimmed, upper case; unknown stays as sent. #}
{% macro normalize_currency(currency) -%}
    nullif(upper(trim({{ currency }})), '')
{%- endmacro %}
