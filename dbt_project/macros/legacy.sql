{#-
    Helpers for the legacy import (raw.legacy_<table>, mhc_pipeline/sources/legacy.py).
    A legacy raw row's payload is {legacy_table, time_zone, username, utc: {column: ISO-8601 UTC},
    row: <the whole legacy row>}: legacy_col() reads a column of the row, legacy_time() the UTC
    instant of a time column (zone-less legacy times were converted from the legacy zone at import).
-#}
{% macro legacy_col(column, alias='source') -%}
    ({{ alias }}.payload -> 'row' ->> '{{ column }}')
{%- endmacro %}

{% macro legacy_time(column, alias='source') -%}
    ({{ alias }}.payload -> 'utc' ->> '{{ column }}')::timestamptz
{%- endmacro %}

{#- A text[] from a legacy column that is TEXT[] (a JSON array) or comma-separated TEXT (a JSON string). -#}
{% macro legacy_text_array(column, alias='source') -%}
    nullif(array(
        select btrim(item.value)
        from unnest(case jsonb_typeof({{ alias }}.payload -> 'row' -> '{{ column }}')
            when 'array' then array(select jsonb_array_elements_text({{ alias }}.payload -> 'row' -> '{{ column }}'))
            when 'string' then string_to_array({{ alias }}.payload -> 'row' ->> '{{ column }}', ',')
        end) with ordinality as item(value, n)
        where btrim(item.value) <> ''
        order by item.n
    ), '{}'::text[])
{%- endmacro %}

{#- Every legacy row keeps its person through the lower-cased username (our ids derive from it). -#}
{% macro legacy_person(alias='source') -%}
    {{ person_id("'chaturbate'", alias ~ ".payload ->> 'username'") }}
{%- endmacro %}
