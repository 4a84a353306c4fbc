{#-
    The product's view of person_current_state, with the column names of the
    original design first (id, username, platform, role, the merged fields
    with an original_position in seeds/field_catalog.csv: display_name,
    current_show, followers, rank, grank, tags, image_url; last_seen_at,
    last_affiliate_update, last_cbhours_update), then the other merged fields,
    then the provenance (_source, _observed_at) of every merged field, then
    the owner's follow relations.
-#}
{{ config(materialized='view', tags=['as_of']) }}
{%- set original_fields = original_view_fields() | map(attribute='name') | list %}
{%- set fields = merged_fields() | map(attribute='name') | list %}

with

current_state as (

    select * from {{ ref('person_current_state') }}

),

build as (

    -- the time of the last build of person_current_state (macros/merge_scope.sql): the state holds as of it
    select as_of from {{ merge_build_relation(ref('person_current_state')) }}

),

final as (

    select
        -- the original v_person_current_state columns
        id,
        username,
        platform,
        role,
        {%- for name in original_fields %}
        {{ name }},
        {%- endfor %}
        last_seen_at,
        {%- for update in source_update_columns() %}
        {{ update.column }},
        {%- endfor %}

        -- the other merged fields
        {%- for name in fields if name not in original_fields %}
        {{ name }},
        {%- endfor %}

        -- provenance: which source gave each field, and when it saw it
        {%- for name in fields %}
        {{ name }}_source,
        {{ name }}_observed_at,
        {%- endfor %}
        -- the owner's follow relations (follows)
        owner_follows,
        owner_follows_since,
        follows_owner,
        follows_owner_since,
        build.as_of as state_as_of

    from current_state
    cross join build

)

select * from final
