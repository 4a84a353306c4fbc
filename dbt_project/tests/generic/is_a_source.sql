{#-
    Fails for every row whose value is not a source name of the source map
    (var `sources`, macros/source_map.sql) of the given kind: 'monitored',
    'merge' or 'broadcast_sessions'. Nulls pass. The accepted values come
    from the map, so adding a source changes no test.

    data_tests:
      - is_a_source:
          arguments:
            kind: monitored
-#}
{% test is_a_source(model, column_name, kind) %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
    and {{ column_name }} not in ('{{ source_names(kind) | join("', '") }}')

{% endtest %}
