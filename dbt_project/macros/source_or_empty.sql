{#
  The raw table of a source, tolerant of what the warehouse does not hold yet:
  - the table does not exist (no account of that platform has synced): an empty relation with
    the typed columns declared in the source's YAML;
  - the table lacks declared columns (loaded by an older version; dlt adds new columns on the
    next load): the missing ones read as typed nulls.

  Why: a project with only Humanitix accounts, a fresh install, or an upgrade before the next
  sync must still build every model instead of failing on a missing schema or column.
#}
{% macro source_or_empty(source_name, table_name) %}
    {#- Calling source() unconditionally records the lineage at parse time. -#}
    {%- set relation = source(source_name, table_name) -%}
    {%- if not execute -%}
        {{- return(relation) -}}
    {%- endif -%}
    {%- set node = graph.sources.values()
        | selectattr('source_name', 'equalto', source_name)
        | selectattr('name', 'equalto', table_name)
        | first -%}
    {%- set declared = node.columns.values() | list if node is not none else [] -%}
    {%- set existing = adapter.get_relation(
        database=relation.database, schema=relation.schema, identifier=relation.identifier
    ) -%}
    {%- if existing is none -%}
        {%- if declared | length == 0 -%}
            {{ exceptions.raise_compiler_error(
                "source " ~ source_name ~ "." ~ table_name ~ " does not exist and declares no columns"
            ) }}
        {%- endif -%}
        {%- set empty -%}
            (select
            {%- for column in declared %}
                cast(null as {{ column.data_type }}) as {{ adapter.quote(column.name) }}{{ "," if not loop.last }}
            {%- endfor %}
            where 1 = 0) as empty_{{ table_name }}
        {%- endset -%}
        {{- return(empty) -}}
    {%- endif -%}
    {%- set present = adapter.get_columns_in_relation(existing) | map(attribute='name') | map('lower') | list -%}
    {%- set missing = declared | rejectattr('name', 'in', present) | list -%}
    {%- if missing | length == 0 -%}
        {{- return(relation) -}}
    {%- endif -%}
    {%- set padded -%}
        (select
            *,
            {%- for column in missing %}
            cast(null as {{ column.data_type }}) as {{ adapter.quote(column.name) }}{{ "," if not loop.last }}
            {%- endfor %}
        from {{ relation }}) as padded_{{ table_name }}
    {%- endset -%}
    {{- return(padded) -}}
{% endmacro %}
