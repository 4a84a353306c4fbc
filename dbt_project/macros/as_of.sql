{#-
    The build time of the priority merge, as a SQL timestamptz expression.
    `--vars '{as_of: "2026-01-01T12:00:00Z"}'` pins it (tests, replays);
    unset, it is now() (the start of the build's transaction).
-#}
{% macro as_of() -%}
    {%- set value = var('as_of', none) -%}
    {%- if value is none or (value | string | trim) in ('', 'none', 'None', 'null') -%}
        now()
    {%- else -%}
        '{{ value | string | trim }}'::timestamptz
    {%- endif -%}
{%- endmacro %}
