{#-
    History of CBHours get_live: one row per (tracked model, live cycle),
    keyed on (person_id, checked_at), Online and Offline entries alike (an
    Offline row carries only room_status). Incremental like
    affiliate_api_snapshots: each run reads only staging rows landed after
    the watermark (newest landed_at here minus the lookback) and skips
    batches it already holds, so its cost follows the size of the new
    cycles, not the length of history. The unique key makes any overlap
    harmless; --full-refresh rebuilds the same rows from raw.
-#}
{{
    config(
        materialized='incremental',
        unique_key=['person_id', 'checked_at'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['person_id', 'checked_at'], 'unique': True},
            {'columns': ['checked_at']},
            {'columns': ['landed_at']},
        ],
    )
}}

with

{{ history_increment(
    ref('stg_cbhours__live'), ref('stg_legacy__cbhours_live_stats'),
    key=['person_id', 'checked_at'],
) }}

final as (

    select
        -- keys
        person_id,
        checked_at,
        batch_id,

        -- identity
        username,
        platform,

        -- status
        room_status,
        is_online,

        -- live values (Online entries only)
        gender,
        is_new,
        rank,
        grank,
        viewers,
        followers,
        current_show,
        room_subject,
        tags,

        -- lineage
        landed_at,
        origin

    from deduplicated

)

select * from final
