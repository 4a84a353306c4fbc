{#-
    History of the Chaturbate Stats API (the owner's own statistics), under
    the original name of the Stats API snapshots table: one row per
    snapshot, keyed on (person_id, captured_at), captured_at being the
    5-minute cycle's time. Append-only: the first landing of a key wins and
    is never updated or deleted (a cycle landed again, or a second batch
    with the same time, adds nothing). Incremental: each run reads only
    staging rows landed after the watermark and probes the unique index for
    keys already held, so its cost follows the new cycles, not the length of
    history; --full-refresh keeps the first landing of every key and gives
    the same rows.
-#}
{{
    config(
        materialized='incremental',
        unique_key=['person_id', 'captured_at'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['person_id', 'captured_at'], 'unique': True},
            {'columns': ['captured_at']},
            {'columns': ['landed_at']},
        ],
    )
}}

with

{{ history_first_rows(ref('stg_stats__snapshots'), key=['person_id', 'captured_at']) }}

final as (

    select
        -- keys
        person_id,
        captured_at,
        batch_id,

        -- identity
        username,
        platform,
        'cb_stats'::text as source,

        -- account
        token_balance,
        tips_in_last_hour,
        votes_up,
        votes_down,
        satisfaction_score,

        -- broadcasting
        last_broadcast_at,
        last_broadcast_raw,
        time_online_minutes,
        is_broadcasting,

        -- audience
        num_followers,
        num_viewers,
        num_registered_viewers,
        num_tokened_viewers,

        -- the answer as received
        raw_payload,

        -- 'live' or 'legacy' (imported by mhc import-legacy)
        origin,

        -- lineage
        landed_at

    from new_rows

)

select * from final
