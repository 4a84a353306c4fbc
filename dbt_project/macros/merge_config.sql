{#-
    Configuration of the priority merge. Fields and models live here; the
    rules (which source, rank, window, fallback) are data, in seeds/merge_rules.csv.

    Adding a source = one staging model + its history model + one
    int_<source>__observations model (and, if it proves identity, one
    int_<source>__person_evidence model), added to the lists below, plus rows
    in merge_rules.csv. No merge SQL changes.
-#}

{#- Models that yield (person_id, field, source, value jsonb, observed_at, landed_at). -#}
{% macro observation_models() -%}
    {{ return([
        'int_affiliate__observations',
        'int_cbhours__observations',
        'int_statbate__observations',
        'int_legacy__profile_observations',
    ]) }}
{%- endmacro %}

{#- Models that yield identity evidence (person_id, username, platform, role, seen_at, landed_at). -#}
{% macro identity_evidence_models() -%}
    {{ return([
        'int_affiliate__person_evidence',
        'int_cbhours__person_evidence',
        'int_events__person_evidence',
        'int_statbate__person_evidence',
        'int_stats__person_evidence',
        'int_follows__person_evidence',
        'int_legacy__person_evidence',
    ]) }}
{%- endmacro %}

{#-
    The merged fields of person_current_state and their SQL types, in output
    order. `if_unknown` is the value used when no source gives one (only
    is_online: a person nobody saw online recently is offline).
    `live_block` marks the live fields that describe a running broadcast:
    they come as one block with is_online, from the row that decided it (its
    source and its time; a field that row left empty is null), and are null
    whenever the merged is_online is false. Their merge_rules rows say which
    sources may give them; is_online's rows (rank, window) decide.
-#}
{% macro merged_fields() -%}
    {{ return([
        {'name': 'display_name',     'data_type': 'text'},
        {'name': 'age',              'data_type': 'integer'},
        {'name': 'birthday',         'data_type': 'date'},
        {'name': 'location',         'data_type': 'text'},
        {'name': 'country',          'data_type': 'text'},
        {'name': 'spoken_languages', 'data_type': 'text[]'},
        {'name': 'gender',           'data_type': 'text'},
        {'name': 'is_online',        'data_type': 'boolean', 'if_unknown': 'false'},
        {'name': 'current_show',     'data_type': 'text',    'live_block': true},
        {'name': 'room_subject',     'data_type': 'text',    'live_block': true},
        {'name': 'viewers',          'data_type': 'integer', 'live_block': true},
        {'name': 'followers',        'data_type': 'integer'},
        {'name': 'rank',             'data_type': 'integer'},
        {'name': 'grank',            'data_type': 'integer'},
        {'name': 'tags',             'data_type': 'text[]'},
        {'name': 'image_url',        'data_type': 'text'},
    ]) }}
{%- endmacro %}

{#-
    Per-source "last update" columns of person_current_state (the original
    view's last_affiliate_update / last_cbhours_update): the newest
    observation of any field from that source. A column for a source that has
    no observations yet is simply null.
-#}
{% macro source_update_columns() -%}
    {{ return([
        {'source': 'affiliate', 'column': 'last_affiliate_update'},
        {'source': 'cbhours',   'column': 'last_cbhours_update'},
    ]) }}
{%- endmacro %}

{#-
    The fields of the `profiles` enrichment cache and their SQL types, in
    output order: the latest non-empty value of each from any source (no
    ranks, no windows). Every name must be a field the observation models
    write (observation_models()). is_new and last_broadcast_at are observed
    for profiles only (they are not merged fields): last_broadcast_at's value
    is the time the source saw the person broadcasting.
-#}
{% macro profile_fields() -%}
    {{ return([
        {'name': 'display_name',      'data_type': 'text'},
        {'name': 'age',               'data_type': 'integer'},
        {'name': 'birthday',          'data_type': 'date'},
        {'name': 'location',          'data_type': 'text'},
        {'name': 'country',           'data_type': 'text'},
        {'name': 'spoken_languages',  'data_type': 'text[]'},
        {'name': 'gender',            'data_type': 'text'},
        {'name': 'tags',              'data_type': 'text[]'},
        {'name': 'image_url',         'data_type': 'text'},
        {'name': 'is_new',            'data_type': 'boolean'},
        {'name': 'last_broadcast_at', 'data_type': 'timestamptz'},
        {'name': 'followers',         'data_type': 'integer'},
    ]) }}
{%- endmacro %}
