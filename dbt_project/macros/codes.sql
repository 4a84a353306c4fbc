{#-
    The import CTEs of the code seeds (no leading `with`, trailing comma):
    gender_codes (raw_value, gender_code) of one source `vocabulary`, and
    show_codes (raw_value, show_code).
-#}
{% macro code_lookups(vocabulary) -%}
gender_codes as (

    select raw_value, gender_code
    from {{ ref('gender_codes') }}
    where vocabulary = '{{ vocabulary }}'

),

show_codes as (

    select raw_value, show_code from {{ ref('show_codes') }}

),
{%- endmacro %}
