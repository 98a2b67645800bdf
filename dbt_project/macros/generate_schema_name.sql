{#
  Schemas are exactly `staging`, `intermediate` and `marts` (not dbt's default
  `<target schema>_<custom schema>`), so analysts, the dashboard and the Gigs calendar read
  `marts.session_complete` on every warehouse and every target.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
