{#
  `source()` when the raw table exists; otherwise an empty relation with the same typed columns,
  read from the source's YAML (every raw column is declared there with its data_type).

  Why: raw tables only exist once an account of that platform has synced. A project with only
  Humanitix accounts (or a fresh install) must still build every model, not crash on a missing
  raw_eventbrite schema.
#}
{% macro source_or_empty(source_name, table_name) %}
    {#- Calling source() unconditionally records the lineage at parse time. -#}
    {%- set relation = source(source_name, table_name) -%}
    {%- if not execute -%}
        {{- return(relation) -}}
    {%- endif -%}
    {%- set existing = adapter.get_relation(
        database=relation.database, schema=relation.schema, identifier=relation.identifier
    ) -%}
    {%- if existing is not none -%}
        {{- return(relation) -}}
    {%- endif -%}
    {%- set node = graph.sources.values()
        | selectattr('source_name', 'equalto', source_name)
        | selectattr('name', 'equalto', table_name)
        | first -%}
    {%- if node is none or node.columns | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "source " ~ source_name ~ "." ~ table_name ~ " does not exist and declares no columns"
        ) }}
    {%- endif -%}
    {{- log("source " ~ source_name ~ "." ~ table_name ~ " is not loaded yet: using an empty relation", info=False) -}}
    {%- set empty -%}
        (select
        {%- for column in node.columns.values() %}
            cast(null as {{ column.data_type }}) as {{ adapter.quote(column.name) }}{{ "," if not loop.last }}
        {%- endfor %}
        where 1 = 0) as empty_{{ table_name }}
    {%- endset -%}
    {{- return(empty) -}}
{% endmacro %}
