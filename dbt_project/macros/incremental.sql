{#-
    The watermark of an incremental model: the newest landed_at it already
    holds, minus the lookback (var incremental_lookback_minutes, default 60).
    Rows landed after it are (re)processed; the unique key of the model makes
    the overlap harmless, and the lookback makes loader transactions that
    commit out of order safe. Only call it inside `{% if is_incremental() %}`.
-#}
{% macro landed_at_watermark(relation=none, column='landed_at') -%}
    {%- set rel = relation if relation is not none else this -%}
    ((select coalesce(max({{ column }}), '-infinity'::timestamptz) from {{ rel }})
        - make_interval(mins => {{ var('incremental_lookback_minutes', 60) | int }}))
{%- endmacro %}
