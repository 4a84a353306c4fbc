{#-
    History of the Affiliate API: one row per (person, crawl), live crawls
    and rows imported from the legacy database (origin 'live' / 'legacy'), keyed on
    (person_id, observed_at). Incremental: each run reads only staging rows
    landed after the watermark (newest landed_at here minus the lookback) and
    skips batches it already holds, so its cost follows the size of the new
    crawls, not the length of history. The unique key makes any overlap
    harmless; --full-refresh rebuilds the same rows from raw.
-#}
{{
    config(
        materialized='incremental',
        unique_key=['person_id', 'observed_at'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['person_id', 'observed_at'], 'unique': True},
            {'columns': ['observed_at']},
            {'columns': ['landed_at']},
        ],
    )
}}

with

{{ history_increment(
    ref('stg_affiliate__rooms'), ref('stg_legacy__affiliate'),
    key=['person_id', 'observed_at'],
) }}

final as (

    select
        -- keys
        person_id,
        observed_at,
        batch_id,

        -- identity
        username,
        platform,

        -- profile
        display_name,
        gender,
        age,
        birthday,
        location,
        country,
        spoken_languages,

        -- stream
        current_show,
        room_subject,
        tags,
        is_hd,
        is_new,
        viewers,
        followers,
        seconds_online,
        session_start,

        -- images and links
        image_url,
        image_url_360x270,
        chat_room_url,

        -- lineage
        landed_at,
        origin

    from deduplicated

)

select * from final
