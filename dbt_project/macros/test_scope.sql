{#-
    The rows a data test reads. dbt wraps a test's model in
    `(select * from <model> where <where config>)`; this override (dbt looks
    up get_where_subquery in the project first) replaces the placeholder
    `__recent__` in a `where` config with a LITERAL time, read when the test
    runs:

      - in every build: the newest landed_at of the loader's ledger
        raw.batches minus var('checks_window_minutes') (20; the tests run every
        15 minutes): the test reads only what the latest landings added (through the landed_at indexes),
        never the whole day or the whole history again;
      - when the environment variable MHC_CHECKS_SCOPE is `history` (the
        daily job dbt_checks_history): '-infinity', every row.

    Tests without a `where` read their whole (small) model: the seeds, the
    merged state, the marts of one row per person or source.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if not where -%}
        {%- do return(relation) -%}
    {%- endif -%}
    {%- if '__recent__' in where -%}
        {%- set where = where | replace('__recent__', checks_since()) -%}
    {%- endif -%}
    {%- set filtered -%}
        (select * from {{ relation }} where {{ where }}) dbt_subquery
    {%- endset -%}
    {%- do return(filtered) -%}
{%- endmacro %}

{#- The literal start of what the data tests check (see get_where_subquery). -#}
{% macro checks_since() -%}
    {%- if env_var('MHC_CHECKS_SCOPE', 'recent') == 'history' or not execute -%}
        {{ return("'-infinity'::timestamptz") }}
    {%- endif -%}
    {%- set minutes = var('checks_window_minutes', 20) | int -%}
    {%- set result = run_query(
        "select extract(epoch from max(landed_at) - make_interval(mins => " ~ minutes ~ "))::text from "
        ~ env_var('MHC_RAW_SCHEMA', 'raw') ~ ".batches"
    ) -%}
    {%- set epoch = result.columns[0].values()[0] -%}
    {{ return("'-infinity'::timestamptz" if epoch is none else "to_timestamp(" ~ epoch ~ ")") }}
{%- endmacro %}
