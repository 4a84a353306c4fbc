{#-
    The `dbt source freshness` threshold of a raw table, in minutes, read
    from its source declaration (config.freshness warn_after / error_after),
    so that source_freshness and `dbt source freshness` agree. `which` is
    'warn_after' or 'error_after'. A SQL integer literal, or null when the
    table has no such threshold (or while parsing).
-#}
{% macro source_freshness_minutes(raw_table, which) -%}
    {%- set minutes = namespace(value=none) -%}
    {%- if execute -%}
        {%- for node in graph.sources.values() -%}
            {%- if node.source_name == 'raw' and node.name == raw_table -%}
                {%- set freshness = node.freshness or (node.config or {}).get('freshness') or {} -%}
                {%- set threshold = freshness.get(which) or {} -%}
                {%- if threshold.get('count') is not none and threshold.get('period') -%}
                    {%- set per = {'minute': 1, 'hour': 60, 'day': 1440}[threshold.get('period')] -%}
                    {%- set minutes.value = threshold.get('count') * per -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if minutes.value is none -%}null::integer{%- else -%}{{ minutes.value }}{%- endif -%}
{%- endmacro %}
