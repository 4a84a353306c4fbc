{#-
    Use a model's custom schema verbatim (staging -> "staging", intermediate ->
    "intermediate") instead of dbt's default "<target_schema>_<custom>". Models
    without a custom schema (history, marts, seeds) go to the target schema,
    the product schema (default "mhc", from MHC_PRODUCT_SCHEMA).
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
