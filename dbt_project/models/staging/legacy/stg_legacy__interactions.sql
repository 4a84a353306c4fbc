{#-
    The legacy interactions (the MHC Control Panel's events table), one row
    per imported row, shaped like the columns of interactions plus
    origin = 'legacy'. The legacy table has no unique key and holds every
    event twice (two listeners): interactions keeps one row per `id`, where
    id is the Chaturbate event id when one exists (resolved at import from
    the linked event_logs.cb_event_id, the id in its raw event, or the
    interaction's metadata), else 'legacy:' and the md5 of (type, person,
    content, second): so the two listeners' copies collapse while real
    repeats (distinct event ids) stay. occurred_at is the event time from
    the event id when there is one, else the legacy receive time (converted
    from the legacy zone). The legacy `source` values map to ours: cb_events
    is events_api; statbate_plus, manual and dm_import stay.
-#}

with

source as (

    select * from {{ source('raw', 'legacy_interactions') }}

),

parsed as (

    select
        source.*,
        nullif(btrim(source.payload ->> 'event_id'), '') as cb_event_id,
        upper(btrim({{ legacy_col('type') }})) as legacy_type,
        case when jsonb_typeof(source.payload -> 'row' -> 'metadata') = 'object'
            then source.payload -> 'row' -> 'metadata' end as metadata,
        {{ legacy_time('timestamp') }} as received_at
    from source
    where source.payload ->> 'username' is not null

),

keyed as (

    select
        parsed.*,
        case when parsed.cb_event_id ~ '^[0-9]{1,15}-[0-9]{1,9}$'
            then split_part(parsed.cb_event_id, '-', 1)::bigint end as event_ms,
        case when parsed.cb_event_id ~ '^[0-9]{1,15}-[0-9]{1,9}$'
            then split_part(parsed.cb_event_id, '-', 2)::integer end as event_seq
    from parsed

),

renamed as (

    select
        -- raw plumbing
        keyed.batch_id,
        keyed.row_no,
        keyed.landed_at,

        -- key: the Chaturbate event id, else (type, person, content, second)
        coalesce(
            keyed.cb_event_id,
            'legacy:' || md5(concat_ws('|', keyed.legacy_type, keyed.payload ->> 'username',
                coalesce({{ legacy_col('content', 'keyed') }}, ''),
                to_char(date_trunc('second', keyed.received_at) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')))
        ) as id,
        keyed.cb_event_id,

        -- what
        keyed.legacy_type as type,
        {{ empty_to_null("keyed.metadata ->> 'method'") }} as method,
        {{ legacy_person('keyed') }} as person_id,
        keyed.payload ->> 'username' as username,
        lower({{ empty_to_null("keyed.metadata ->> 'broadcaster'") }}) as broadcaster,
        coalesce({{ legacy_col('content', 'keyed') }}, '') as content,
        {{ try_cast("keyed.metadata ->> 'tokens'", 'integer') }} as tokens,
        {{ try_cast("keyed.metadata ->> 'isAnon'", 'boolean') }} as is_anon,
        lower({{ empty_to_null("keyed.metadata ->> 'fromUser'") }}) as from_user,
        lower({{ empty_to_null("keyed.metadata ->> 'toUser'") }}) as to_user,

        -- when
        coalesce(to_timestamp(keyed.event_ms / 1000.0), keyed.received_at) as occurred_at,
        keyed.received_at,
        coalesce(keyed.event_ms, floor(extract(epoch from keyed.received_at) * 1000)::bigint) as event_ms,
        coalesce(keyed.event_seq, 0) as event_seq,

        -- provenance
        case lower({{ legacy_col('source', 'keyed') }})
            when 'cb_events' then 'events_api'
            else coalesce(lower({{ empty_to_null(legacy_col('source', 'keyed')) }}), 'events_api')
        end as source,
        keyed.metadata,
        'legacy'::text as origin

    from keyed
    where keyed.received_at is not null

)

select
    -- null: a good row; else why it is set aside (stg_<source>__rejects lists it)
    {{ reject_reason([
        ("username is null or btrim(username) = ''", "'blank or missing username'"),
        ("occurred_at is null", "'no timestamp'"),
        ("type is null or type not in ('CHAT_MESSAGE', 'PRIVATE_MESSAGE', 'DIRECT_MESSAGE', 'TIP_EVENT', 'FOLLOW', 'UNFOLLOW', 'USER_ENTER', 'USER_LEAVE', 'FANCLUB_JOIN', 'MEDIA_PURCHASE', 'BROADCAST_START', 'BROADCAST_STOP', 'ROOM_SUBJECT_CHANGE', 'OTHER', 'PROFILE_PASTE', 'CHAT_IMPORT', 'MANUAL_NOTE')", "'unknown interaction type ' || coalesce(quote_literal(type), 'null')"),
        ("type in ('CHAT_MESSAGE', 'PRIVATE_MESSAGE', 'DIRECT_MESSAGE') and btrim(coalesce(content, '')) = ''", "'blank message content (' || type || ')'")
    ]) }} as reject_reason,
    renamed.*
from renamed
