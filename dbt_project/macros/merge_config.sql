{#-
    Configuration of the priority merge. Fields live here; the rules (which
    source, rank, window, fallback) are data, in seeds/merge_rules.csv, and
    the models that feed the merge are listed by the source map
    (macros/source_map.sql). No merge SQL names a source.
-#}

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
