{#- A StatBate time: a naive ISO date-time is UTC, one with an offset keeps it; anything else (or an
    impossible date) is null. One place for the StatBate staging models, live and legacy. -#}
{% macro statbate_time(expr) -%}
(case
    when btrim({{ expr }}) ~ '^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?$'
        and pg_input_is_valid(replace(btrim({{ expr }}), 'T', ' ') || '+00', 'timestamptz')
        then (replace(btrim({{ expr }}), 'T', ' ') || '+00')::timestamptz
    when btrim({{ expr }}) ~ '^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$'
        and pg_input_is_valid(btrim({{ expr }}), 'timestamptz')
        then btrim({{ expr }})::timestamptz
end)
{%- endmacro %}
