{#-
    Use a model's custom schema verbatim (staging -> "staging", intermediate ->
    "intermediate") instead of dbt's default "<target_schema>_<custom>". Models
    without a custom schema (history, marts, seeds) go to the target schema,
    the product schema (default "mhc", from MHC_PRODUCT_SCHEMA). In an as-of
    build (as_of_schema(), macros/as_of.sql) the models tagged `as_of` go to
    the as-of schema instead.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if as_of_schema() and node is not none and 'as_of' in (node.tags or []) -%}
        {{ as_of_schema() }}
    {%- elif custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
