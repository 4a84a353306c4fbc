{#-
    dbt's view materialization, for PostgreSQL, replacing the view in place
    (`create or replace view`) instead of building a new one, renaming the
    old one away and dropping it with CASCADE. That drop takes every view
    built on the old one with it (v_person_current_state, v_broadcast_sessions,
    the intermediate views), and a build that does not re-create them, like
    the partial builds the dbt_follows_landing sensor launches, leaves them
    gone. A view whose columns are renamed, retyped or removed cannot be
    replaced in place: PostgreSQL refuses, and `mhc build --full-refresh`
    (the dbt default below: drop with CASCADE, create, and every dependent
    rebuilt in the same build) applies it.
-#}
{%- materialization view, adapter='postgres' -%}

  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set target_relation = this.incorporate(type='view') -%}
  {%- set grant_config = config.get('grants') -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}

  {%- if existing_relation is not none and (existing_relation.type != 'view' or should_full_refresh()) %}
    {{ adapter.drop_relation(existing_relation) }}
    {%- set existing_relation = none %}
  {%- endif %}

  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {% call statement('main') -%}
    {{ get_create_view_as_sql(target_relation, sql) | replace('create view', 'create or replace view', 1) }}
  {%- endcall %}

  {% set should_revoke = should_revoke(existing_relation, full_refresh_mode=True) %}
  {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke) %}

  {% do persist_docs(target_relation, model) %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}

  {{ adapter.commit() }}

  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}

{%- endmaterialization -%}
