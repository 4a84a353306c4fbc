{#-
    The check on a source's rejects view (stg_<source>__rejects): one
    result row per reason, failing on the number of rows set aside. A
    warning, never an error: rows a source sent that the product cannot use
    are set aside and must not stop a build. Dagster shows it as the
    warning check `no_rows_set_aside` with the count and the reasons.
-#}
{% test no_rows_set_aside(model) %}
{{ config(severity='warn', fail_calc='coalesce(sum(rows_set_aside), 0)') }}

select reason, count(*) as rows_set_aside
from {{ model }}
group by reason

{% endtest %}
