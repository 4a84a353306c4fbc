{#-
    One row per (complete captured list, person listed): what the follow
    history diffs. Incomplete captures never get here. Incremental and
    append-only: only captures landed after the watermark are exploded; the
    index on (direction, person_id, captured_at) serves the per-person
    look-ups of follow_history.
-#}
{{
    config(
        materialized='incremental',
        unique_key=['batch_id', 'person_id'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['batch_id', 'person_id'], 'unique': True},
            {'columns': ['direction', 'person_id', 'captured_at']},
            {'columns': ['landed_at']},
        ],
    )
}}

with

entries as (

    select * from {{ ref('stg_follows__entries') }}
    where reject_reason is null
        and is_complete
        and direction in ('following', 'follower')
    {% if is_incremental() %}
        and landed_at > {{ landed_at_watermark() }}
    {% endif %}

),

final as (

    select
        batch_id,
        person_id,
        username,
        platform,
        direction,
        source,
        captured_at,
        position,
        is_online,
        landed_at
    from entries

)

select * from final
