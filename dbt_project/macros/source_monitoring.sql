{#-
    The sources source_freshness and source_coverage report on, one per raw
    landing table: its raw table, its history model and that model's time
    column, and the merge source its observations have in
    int_field_observations / person_current_state (none: it gives no merged
    field). cbhours_live and cbhours_activity share the merge source
    'cbhours'. `observed_if` (optional): the condition a history row must
    meet to count as observing its person (a StatBate 404 "not found" answer
    is kept in history but observes nobody: the name may be a typo).
    Adding a source is one line here.
-#}
{% macro monitored_sources() -%}
    {{ return([
        {'source': 'affiliate',        'raw_table': 'affiliate_onlinerooms', 'history_model': 'affiliate_api_snapshots', 'time_column': 'observed_at', 'merge_source': 'affiliate'},
        {'source': 'cbhours_live',     'raw_table': 'cbhours_live',          'history_model': 'cbhours_live_stats',      'time_column': 'checked_at',  'merge_source': 'cbhours'},
        {'source': 'cbhours_activity', 'raw_table': 'cbhours_activity',      'history_model': 'cbhours_activity',        'time_column': 'timestamp',   'merge_source': 'cbhours'},
        {'source': 'events',           'raw_table': 'events',                'history_model': 'interactions',            'time_column': 'occurred_at', 'merge_source': none},
        {'source': 'statbate_model_info',  'raw_table': 'statbate_model_info',  'history_model': 'statbate_model_info',  'time_column': 'captured_at', 'merge_source': 'statbate', 'observed_if': 'is_found'},
        {'source': 'statbate_member_info', 'raw_table': 'statbate_member_info', 'history_model': 'statbate_member_info', 'time_column': 'captured_at', 'merge_source': none, 'observed_if': 'is_found'},
        {'source': 'statbate_tips',        'raw_table': 'statbate_tips',        'history_model': 'statbate_tips',        'time_column': 'tipped_at',   'merge_source': none},
        {'source': 'stats',            'raw_table': 'stats_api',             'history_model': 'snapshots',               'time_column': 'captured_at', 'merge_source': none},
        {'source': 'follows',          'raw_table': 'follow_lists',          'history_model': 'follow_list_entries',     'time_column': 'captured_at', 'merge_source': none},
    ]) }}
{%- endmacro %}

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
