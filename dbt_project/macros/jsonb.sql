{#- Helpers for the field observations (value jsonb). -#}

{#- True when a jsonb value carries no information: SQL null, JSON null, "", a blank string, [] or {}. -#}
{% macro jsonb_is_empty(expr) -%}
    ({{ expr }} is null
        or jsonb_typeof({{ expr }}) = 'null'
        or (jsonb_typeof({{ expr }}) = 'string' and btrim({{ expr }} #>> '{}') = '')
        or (jsonb_typeof({{ expr }}) = 'array' and jsonb_array_length({{ expr }}) = 0)
        or (jsonb_typeof({{ expr }}) = 'object' and {{ expr }} = '{}'::jsonb))
{%- endmacro %}

{#- Turn a jsonb observation value back into its SQL type (see merged_fields()). -#}
{% macro jsonb_to_type(expr, data_type) -%}
    {%- if data_type == 'text[]' -%}
        (case when jsonb_typeof({{ expr }}) = 'array'
            then array(select e.value from jsonb_array_elements_text({{ expr }}) with ordinality as e(value, n) order by e.n) end)::text[]
    {%- elif data_type == 'jsonb' -%}
        {{ expr }}
    {%- else -%}
        ({{ expr }} #>> '{}')::{{ data_type }}
    {%- endif -%}
{%- endmacro %}

{#- Trimmed text, with '' (or whitespace only) as null. -#}
{% macro empty_to_null(expr) -%}
    nullif(btrim({{ expr }}), '')
{%- endmacro %}

{#- Cast text to a type, or null when the text is not a valid input for it (PostgreSQL 16+). -#}
{% macro try_cast(expr, data_type) -%}
    (case when pg_input_is_valid({{ expr }}, '{{ data_type }}') then ({{ expr }})::{{ data_type }} end)
{%- endmacro %}

{#-
    A timestamptz as ISO-8601 UTC text with microseconds, e.g.
    2026-01-10T12:00:00.000000Z, whatever the session's TimeZone (for jsonb
    values and deterministic ids; it casts back with ::timestamptz).
-#}
{% macro utc_iso_text(expr) -%}
    to_char(({{ expr }}) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
{%- endmacro %}
