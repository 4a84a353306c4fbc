{#-
    Fails for every row whose value is an empty or whitespace-only string.
    Nulls pass (combine with not_null where a value is required): staging
    turns '' into null, so a blank value downstream means a cleaning step
    was skipped. A warning by default: blank values come from sources.
-#}
{% test not_blank(model, column_name) %}
{#- a warning: a blank value comes from a source, and must not stop a build -#}
{{ config(severity='warn') }}

select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
    and btrim({{ column_name }}::text) = ''

{% endtest %}
