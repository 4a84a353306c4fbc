{#-
    The owner's room events as the MHC Control Panel reads them: one row per
    Events API event, keyed on its id (the original `interactions` table, with
    the original type vocabulary). Every method is kept: the twelve
    documented ones map to CHAT_MESSAGE, PRIVATE_MESSAGE (DIRECT_MESSAGE
    when the event has no broadcaster), TIP_EVENT, FOLLOW, UNFOLLOW,
    USER_ENTER, USER_LEAVE, FANCLUB_JOIN, MEDIA_PURCHASE, BROADCAST_START,
    BROADCAST_STOP and ROOM_SUBJECT_CHANGE; any other method is OTHER (its
    method and object are kept). content is the message text, or a fixed
    label as in the original system ("Tipped N tokens" for a tip without a
    note, "Followed", "Entered room", ...). occurred_at is the event time
    from the id, not the time it was received.

    Rows imported from the legacy database (stg_legacy__interactions) are
    folded in with origin 'legacy'; their id is the Chaturbate event id when
    one is known, so the legacy table's doubled events collapse to one row.
    The first landing of an id wins: a replayed event (the same id landed
    again) adds nothing. Incremental: each run reads only staging rows landed
    after the watermark and probes the unique index for ids already held, so
    its cost follows the number of new events; --full-refresh keeps the
    first landing of every id and gives the same rows.
-#}
{{
    config(
        materialized='incremental',
        unique_key='id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['id'], 'unique': True},
            {'columns': ['person_id', 'occurred_at']},
            {'columns': ['occurred_at']},
            {'columns': ['landed_at']},
        ],
    )
}}

with

{{ history_first_rows(
    ref('stg_events__events'),
    key=['event_id'], where='occurred_at is not null', held_match='held.id = first_rows.event_id',
) }}

typed as (

    select
        new_rows.*,
        case new_rows.method
            when 'chatMessage' then 'CHAT_MESSAGE'
            when 'privateMessage' then
                case when new_rows.broadcaster is null then 'DIRECT_MESSAGE' else 'PRIVATE_MESSAGE' end
            when 'tip' then 'TIP_EVENT'
            when 'follow' then 'FOLLOW'
            when 'unfollow' then 'UNFOLLOW'
            when 'userEnter' then 'USER_ENTER'
            when 'userLeave' then 'USER_LEAVE'
            when 'fanclubJoin' then 'FANCLUB_JOIN'
            when 'mediaPurchase' then 'MEDIA_PURCHASE'
            when 'broadcastStart' then 'BROADCAST_START'
            when 'broadcastStop' then 'BROADCAST_STOP'
            when 'roomSubjectChange' then 'ROOM_SUBJECT_CHANGE'
            else 'OTHER'
        end as type
    from new_rows

),

live as (

    select
        -- key
        event_id as id,

        -- what
        type,
        method,
        person_id,
        username,
        broadcaster,
        coalesce(message, {{ interaction_label('type', 'tokens', 'method') }}) as content,
        tokens,
        is_anon,
        from_user,
        to_user,

        -- when
        occurred_at,
        event_ms,
        event_seq,

        -- provenance
        'events_api'::text as source,
        object as metadata,
        batch_id,
        row_no,
        landed_at,
        'live'::text as origin

    from typed

),

legacy as (

    -- imported from the legacy MHC Control Panel: its two listeners' copies
    -- share an id (the event id, else type, person, content and second)
    -- (a blank chat message was set aside at staging; other blank content gets the live label)
    select
        id, type, method, person_id, username, broadcaster,
        coalesce(nullif(btrim(content), ''), {{ interaction_label('type', 'tokens', 'method') }}) as content,
        tokens, is_anon, from_user, to_user,
        occurred_at, event_ms, event_seq, source, metadata, batch_id, row_no, landed_at, origin
    from {{ ref('stg_legacy__interactions') }}
    where reject_reason is null
    {% if is_incremental() %}
        and landed_at > {{ landed_at_watermark() }}
    {% endif %}

),

combined as (

    -- one row per id: the first landing wins (live before legacy at a tie)
    select distinct on (id) *
    from (
        select * from live
        union all
        select * from legacy
    ) as candidates
    {% if is_incremental() %}
    where not exists (
        select 1 from {{ this }} as held where held.id = candidates.id
    )
    {% endif %}
    order by id, landed_at, origin desc, batch_id, row_no

),

final as (

    select
        id, type, method, person_id, username, broadcaster, content, tokens, is_anon, from_user, to_user,
        occurred_at, event_ms, event_seq, source, metadata, batch_id, landed_at, origin
    from combined

)

select * from final
