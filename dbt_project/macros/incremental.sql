{#-
    The watermark of an incremental model: the newest landed_at it already
    holds, minus the lookback (var incremental_lookback_minutes, default 10),
    as a LITERAL timestamptz read when the model runs. Rows landed after it
    are (re)processed; the unique key of the model makes the overlap
    harmless, and the lookback makes loader transactions that commit out of
    order safe (landed_at is a batch transaction's start; a batch commits
    within seconds). A literal, not a sub-query: the planner can then use the
    landed_at index of the raw table and of the model, so a build reads the
    same few pages whatever the length of history. Only call it inside
    `{% if is_incremental() %}`.
-#}
{% macro landed_at_watermark(relation=none, column='landed_at') -%}
    {%- set rel = relation if relation is not none else this -%}
    {%- set minutes = var('incremental_lookback_minutes', 10) | int -%}
    {%- if (rel | string).startswith('__dbt__cte__') -%}
        {#- a dbt unit test: `this` is a CTE of given rows, not a table run_query can read -#}
        ((select coalesce(max({{ column }}), '-infinity'::timestamptz) from {{ rel }}) - make_interval(mins => {{ minutes }}))
    {%- elif execute -%}
        {%- set result = run_query(
            "select extract(epoch from max(" ~ column ~ ") - make_interval(mins => " ~ minutes ~ "))::text from " ~ rel
        ) -%}
        {%- set epoch = result.columns[0].values()[0] -%}
        {%- if epoch is none -%}
            '-infinity'::timestamptz
        {%- else -%}
            to_timestamp({{ epoch }})
        {%- endif -%}
    {%- else -%}
        '-infinity'::timestamptz
    {%- endif -%}
{%- endmacro %}
