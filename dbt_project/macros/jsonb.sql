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

{#-
    The field observations of a history relation (a CTE name): one row per
    (row, field), (person_id, field, source, value jsonb, observed_at,
    landed_at), empty values dropped (they never win the merge). `fields`:
    each a column name, whose column has the field's name (staging renames
    source columns to the catalog's names), or [name, SQL expression].
    `when`: a SQL condition a row must meet for its fields to count (else
    their values are null, i.e. dropped), except the fields named in
    `always`. `observed_at`: the relation's time column.
-#}
{% macro unpivot_observations(relation, source, fields, observed_at='observed_at', when=none, always=[]) -%}
    select
        {{ relation }}.person_id,
        field.field,
        '{{ source }}'::text as source,
        field.value,
        {{ relation }}.{{ observed_at }} as observed_at,
        {{ relation }}.landed_at
    from {{ relation }}
    cross join lateral (
        values
        {%- for item in fields %}
            {%- set name = item if item is string else item[0] %}
            {%- set expr = (relation ~ '.' ~ item) if item is string else item[1] %}
            {%- if when and name not in always %}
            ('{{ name }}', case when {{ when }} then to_jsonb({{ expr }}) end)
            {%- else %}
            ('{{ name }}', to_jsonb({{ expr }}))
            {%- endif %}
            {%- if not loop.last %},{% endif %}
        {%- endfor %}
    ) as field (field, value)
    where not {{ jsonb_is_empty('field.value') }}
{%- endmacro %}

{#-
    The field pivot: one row per person_id of `relation` (rows of person_id,
    field, source, value jsonb, observed_at; at most one per person and
    field) with F__value, F__source and F__observed_at for every field of
    `fields` (dicts with a name: merged_fields(), profile_fields()).
-#}
{% macro pivot_fields(relation, fields) -%}
    select
        person_id,
        {%- for field in fields %}
        (array_agg(value) filter (where field = '{{ field.name }}'))[1] as {{ field.name }}__value,
        min(source) filter (where field = '{{ field.name }}') as {{ field.name }}__source,
        max(observed_at) filter (where field = '{{ field.name }}') as {{ field.name }}__observed_at
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ relation }}
    group by person_id
{%- endmacro %}
