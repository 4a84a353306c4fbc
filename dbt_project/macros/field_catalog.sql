{#-
    GENERATED from seeds/field_catalog.csv by dbt_project/scripts/field_catalog.py: edit the
    catalog, then run the script (tests/test_field_catalog.py checks this file).
    Every field of the catalog, in its order: name, data_type, merged, live_block, if_unknown
    (none, or the SQL value used when no source gives one), profile, original_position.
-#}
{% macro field_catalog() -%}
    {{ return([
        {"name": "display_name", "data_type": "text", "merged": true, "live_block": false, "if_unknown": none, "profile": true, "original_position": 1},
        {"name": "age", "data_type": "integer", "merged": true, "live_block": false, "if_unknown": none, "profile": true, "original_position": none},
        {"name": "birthday", "data_type": "date", "merged": true, "live_block": false, "if_unknown": none, "profile": true, "original_position": none},
        {"name": "location", "data_type": "text", "merged": true, "live_block": false, "if_unknown": none, "profile": true, "original_position": none},
        {"name": "country", "data_type": "text", "merged": true, "live_block": false, "if_unknown": none, "profile": true, "original_position": none},
        {"name": "spoken_languages", "data_type": "text[]", "merged": true, "live_block": false, "if_unknown": none, "profile": true, "original_position": none},
        {"name": "gender", "data_type": "text", "merged": true, "live_block": false, "if_unknown": none, "profile": true, "original_position": none},
        {"name": "is_online", "data_type": "boolean", "merged": true, "live_block": false, "if_unknown": "false", "profile": false, "original_position": none},
        {"name": "current_show", "data_type": "text", "merged": true, "live_block": true, "if_unknown": none, "profile": false, "original_position": 2},
        {"name": "room_subject", "data_type": "text", "merged": true, "live_block": true, "if_unknown": none, "profile": false, "original_position": none},
        {"name": "viewers", "data_type": "integer", "merged": true, "live_block": true, "if_unknown": none, "profile": false, "original_position": none},
        {"name": "followers", "data_type": "integer", "merged": true, "live_block": false, "if_unknown": none, "profile": true, "original_position": 3},
        {"name": "rank", "data_type": "integer", "merged": true, "live_block": false, "if_unknown": none, "profile": false, "original_position": 4},
        {"name": "grank", "data_type": "integer", "merged": true, "live_block": false, "if_unknown": none, "profile": false, "original_position": 5},
        {"name": "tags", "data_type": "text[]", "merged": true, "live_block": false, "if_unknown": none, "profile": true, "original_position": 6},
        {"name": "image_url", "data_type": "text", "merged": true, "live_block": false, "if_unknown": none, "profile": true, "original_position": 7},
        {"name": "is_new", "data_type": "boolean", "merged": false, "live_block": false, "if_unknown": none, "profile": true, "original_position": none},
        {"name": "last_broadcast_at", "data_type": "timestamptz", "merged": false, "live_block": false, "if_unknown": none, "profile": true, "original_position": none},
    ]) }}
{%- endmacro %}
