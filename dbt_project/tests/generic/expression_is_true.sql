{#-
    Fails for every row where `expression` (SQL over the model's columns) is
    not true (false or null). Our own version of dbt_utils.expression_is_true
    (no packages here). Model-level:

    data_tests:
      - expression_is_true:
          arguments:
            expression: "ended_at >= started_at"
-#}
{% test expression_is_true(model, expression) %}

select *
from {{ model }}
where not coalesce(({{ expression }}), false)

{% endtest %}
