{#-
    The registry of sources: every list of sources the models read comes from
    the one source map, var `sources` in dbt_project.yml (one entry per source
    folder; its keys are documented there). Adding a source is its folder
    (staging + history + intermediate) plus its entry in that map and its rows
    in seeds/merge_rules.csv; no macro or model lists source names.
-#}

{#- The source map: {folder name: entry}, in the order of dbt_project.yml. -#}
{% macro source_map() -%}
    {{ return(var('sources')) }}
{%- endmacro %}

{#- Models that yield (person_id, field, source, value jsonb, observed_at, landed_at): int_field_observations. -#}
{% macro observation_models() -%}
    {%- set models = [] -%}
    {%- for entry in source_map().values() if entry.get('observations') -%}
        {%- do models.append(entry.observations) -%}
    {%- endfor -%}
    {{ return(models) }}
{%- endmacro %}

{#- Models that yield identity evidence (person_id, username, platform, role, seen_at, landed_at): persons. -#}
{% macro identity_evidence_models() -%}
    {%- set models = [] -%}
    {%- for entry in source_map().values() if entry.get('person_evidence') -%}
        {%- do models.append(entry.person_evidence) -%}
    {%- endfor -%}
    {{ return(models) }}
{%- endmacro %}

{#-
    Per-source "last update" columns of person_current_state (the original
    view's last_affiliate_update / last_cbhours_update): the newest
    observation of any field from that merge source. A column for a source
    that has no observations yet is simply null.
-#}
{% macro source_update_columns() -%}
    {%- set columns = [] -%}
    {%- for entry in source_map().values() if entry.get('update_column') -%}
        {%- do columns.append({'source': entry.merge_source, 'column': entry.update_column}) -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}

{#-
    The sources source_freshness, source_coverage and int_source_persons
    report on, one per raw landing table: `source` (its name there), its
    raw_table, its history_model and that model's time_column, and the
    merge_source its observations have in int_field_observations /
    person_current_state (none: it gives no merged field). cbhours_live and
    cbhours_activity share the merge source 'cbhours'. `observed_if`
    (optional): the condition a history row must meet to count as observing
    its person (a StatBate 404 "not found" answer is kept in history but
    observes nobody: the name may be a typo).
-#}
{% macro monitored_sources() -%}
    {%- set sources = [] -%}
    {%- for entry in source_map().values() -%}
        {%- for table in entry.get('monitored', []) -%}
            {%- do sources.append({
                'source': table.name,
                'raw_table': table.raw_table,
                'history_model': table.history_model,
                'time_column': table.time_column,
                'merge_source': entry.get('merge_source') if table.get('merged', true) else none,
                'observed_if': table.get('observed_if'),
            }) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(sources) }}
{%- endmacro %}

{#-
    The sources of broadcast_sessions and their rules (the monitored tables
    with a `broadcast_sessions` entry; what the keys mean:
    macros/broadcast_sessions.sql): `source` is the monitored name.
-#}
{% macro broadcast_session_sources() -%}
    {%- set sources = [] -%}
    {%- for entry in source_map().values() -%}
        {%- for table in entry.get('monitored', []) if table.get('broadcast_sessions') -%}
            {%- set rules = {'source': table.name} -%}
            {%- do rules.update(table.broadcast_sessions) -%}
            {%- do sources.append(rules) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(sources) }}
{%- endmacro %}

{#-
    Names of one kind of source, for the generic test `is_a_source`:
    'monitored' (source_freshness, source_coverage, int_source_persons),
    'merge' (merge_rules, F_source), 'broadcast_sessions'.
-#}
{% macro source_names(kind) -%}
    {%- if kind == 'monitored' -%}
        {{ return(monitored_sources() | map(attribute='source') | list) }}
    {%- elif kind == 'broadcast_sessions' -%}
        {{ return(broadcast_session_sources() | map(attribute='source') | list) }}
    {%- elif kind == 'merge' -%}
        {%- set names = [] -%}
        {%- for entry in source_map().values() if entry.get('merge_source') and entry.merge_source not in names -%}
            {%- do names.append(entry.merge_source) -%}
        {%- endfor -%}
        {{ return(names) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("source_names: unknown kind " ~ kind) }}
    {%- endif -%}
{%- endmacro %}
