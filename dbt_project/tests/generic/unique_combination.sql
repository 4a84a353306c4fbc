{#-
    Fails for every combination of `combination_of_columns` that occurs more
    than once (the composite-key version of `unique`). Rows where any key
    column is null are ignored here; test those with not_null.

    data_tests:
      - unique_combination:
          arguments:
            combination_of_columns: [person_id, observed_at]
-#}
{% test unique_combination(model, combination_of_columns) %}
{%- set columns_csv = combination_of_columns | join(', ') %}

with

keys as (
    select {{ columns_csv }}
    from {{ model }}
    where
        {%- for column in combination_of_columns %}
        {{ column }} is not null{% if not loop.last %} and{% endif %}
        {%- endfor %}
),

duplicates as (
    select {{ columns_csv }}, count(*) as n_rows
    from keys
    group by {{ columns_csv }}
    having count(*) > 1
)

select * from duplicates

{% endtest %}
