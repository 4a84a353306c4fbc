{#-
    The owner's (broadcaster's) username as a SQL text literal, lower-cased:
    the `owner` var when set, else the MHC_OWNER environment variable (the
    pipeline's setting), else 'hudson_cage'. The owner is also recognised
    from the data (the broadcaster of the Events feed); this names the owner
    before any event arrives.
-#}
{% macro owner_username() -%}
    {%- set value = var('owner', none) -%}
    {%- if value is none or (value | string | trim) in ('', 'none', 'None', 'null') -%}
        {%- set value = env_var('MHC_OWNER', 'hudson_cage') -%}
    {%- endif -%}
    '{{ value | string | trim | lower | replace("'", "''") }}'::text
{%- endmacro %}
