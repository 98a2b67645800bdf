{# Three upper-case letters (ISO 4217 shape); nulls pass (not_null covers them). #}
{% test iso_currency_code(model, column_name) %}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} is not null
        and not {{ ticketing.matches_regex(column_name, '^[A-Z]{3}$') }}
{% endtest %}
