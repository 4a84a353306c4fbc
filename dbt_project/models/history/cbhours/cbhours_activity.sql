{#-
    History of CBHours get_activity: one row per (model, 3-minute segment),
    keyed on (person_id, timestamp), timestamp in UTC.

    The first fetch of a segment wins. CBHours answers for whole days, and
    today's partition is fetched again every few minutes while the model is
    online: a re-fetch returns the same segments again, and adds nothing and
    leaves the row (and its landed_at) alone, so nothing downstream is
    re-read. Only a fetch that is older than the one held (an earlier fetch
    that landed late) replaces it. "First" is the smallest (fetched_at,
    landed_at, batch_id), so the result does not depend on the order in
    which batches are processed and --full-refresh gives the same rows.
    (A segment is a sample CBHours took at that time: later fetches do not
    change it. If they ever did, switch the comparison below to keep the
    newest fetch instead.)

    Incremental: each run reads only staging rows landed after the watermark
    (newest landed_at here minus the lookback) and probes the unique index
    for the keys it already holds.
-#}
{{
    config(
        materialized='incremental',
        unique_key=['person_id', 'timestamp'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['person_id', 'timestamp'], 'unique': True},
            {'columns': ['timestamp']},
            {'columns': ['landed_at']},
        ],
    )
}}

with

{# the first fetch of each segment; one already held from the same or an earlier fetch stays as it is #}
{{ history_first_rows(
    ref('stg_cbhours__activity'), ref('stg_legacy__cbhours_activity'),
    key=['person_id', 'timestamp'], order_by='fetched_at, landed_at, batch_id, row_no', where='timestamp is not null',
    held_match='held.person_id = first_rows.person_id
            and held.timestamp = first_rows.timestamp
            and (held.fetched_at, held.landed_at, held.batch_id)
                <= (first_rows.fetched_at, first_rows.landed_at, first_rows.batch_id)',
) }}

final as (

    select
        -- keys
        person_id,
        timestamp,
        batch_id,

        -- identity
        username,
        platform,

        -- segment
        show_type,
        segment_type,
        rank,
        grank,
        followers,
        viewers,
        gender,

        -- lineage
        fetched_at,
        landed_at,
        origin

    from new_rows

)

select * from final
