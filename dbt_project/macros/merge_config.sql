{#-
    Configuration of the priority merge. The fields are the rows of the field
    catalog (seeds/field_catalog.csv); the rules (which source, rank, window,
    fallback) are data, in seeds/merge_rules.csv, and
    the models that feed the merge are listed by the source map
    (macros/source_map.sql). No merge SQL names a source.
-#}

{#-
    The merged fields of person_current_state and their SQL types, in output
    order: the rows of the field catalog (seeds/field_catalog.csv, through the
    generated macro field_catalog()) marked `merged`. `if_unknown` (none, or
    a SQL value) is the value used when no source gives one (only is_online:
    a person nobody saw online recently is offline). `live_block` marks the
    live fields that describe a running broadcast: they come as one block
    with is_online, from the row that decided it (its source and its time; a
    field that row left empty is null), and are null whenever the merged
    is_online is false. Their merge_rules rows say which sources may give
    them; is_online's rows (rank, window) decide.
-#}
{% macro merged_fields() -%}
    {{ return(field_catalog() | selectattr('merged') | list) }}
{%- endmacro %}

{#-
    The fields of the `profiles` enrichment cache and their SQL types, in
    output order: the catalog rows marked `profile`. The latest non-empty
    value of each from any source (no ranks, no windows). Every name must be
    a field the observation models write (observation_models()). is_new and
    last_broadcast_at are observed for profiles only (not `merged`):
    last_broadcast_at's value is the time the source saw the person
    broadcasting.
-#}
{% macro profile_fields() -%}
    {{ return(field_catalog() | selectattr('profile') | list) }}
{%- endmacro %}

{#-
    The merged fields the original v_person_current_state showed, in its
    order: the catalog rows with an `original_position`.
-#}
{% macro original_view_fields() -%}
    {{ return(merged_fields() | selectattr('original_position') | sort(attribute='original_position') | list) }}
{%- endmacro %}
