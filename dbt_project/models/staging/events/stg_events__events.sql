{#-
    One row per event of the owner's Events API feed: the event envelope
    {"method", "id", "object"} cast and renamed. Every method is kept,
    unknown future ones included (their common fields are read the same way;
    the whole object stays in `object`).

    - Time: the id is "<epoch_ms>-<seq>"; occurred_at is the milliseconds
      prefix as a timestamptz, and (event_ms, event_seq) orders events
      numerically (never order by the id text). A malformed id gives null
      time (the not_null test reports it; interactions skips it).
    - broadcaster: object.broadcaster, falling back to a top-level
      broadcaster of the payload; empty means a direct message outside any
      room.
    - message: message.message (chat and private messages), the tip note
      with its leading "| " stripped, or the new subject of a
      roomSubjectChange; '' is null.
    - media_id is text (the id arrives as a number or a string).
    - is_owner_event: the event was made by the owner: the actor is the
      room's broadcaster or the configured owner (owner_username()), or there
      is no actor at all (roomSubjectChange).
    The loader lands each event once; a repeat inside one landing is dropped
    here (landed_at is part of the partition so that the landed_at filter of
    interactions is pushed below the window function), and interactions keeps
    the first landing of an id across landings.
-#}

with

source as (

    select * from {{ source('raw', 'events') }}

),

gender_codes as (

    select raw_value, gender_code
    from {{ ref('gender_codes') }}
    where vocabulary = 'events'

),

events as (

    select
        batch_id,
        row_no,
        landed_at,
        btrim(payload ->> 'id') as event_id,
        {{ empty_to_null("payload ->> 'method'") }} as method,
        case when jsonb_typeof(payload -> 'object') = 'object' then payload -> 'object' end as object,
        payload,
        row_number() over (
            partition by landed_at, btrim(payload ->> 'id')
            order by batch_id, row_no
        ) as nth_in_landing
    from source
    where {{ empty_to_null("payload ->> 'id'") }} is not null

),

parsed as (

    select
        events.*,
        case when events.event_id ~ '^[0-9]{1,15}-[0-9]{1,9}$'
            then split_part(events.event_id, '-', 1)::bigint
        end as event_ms,
        case when events.event_id ~ '^[0-9]{1,15}-[0-9]{1,9}$'
            then split_part(events.event_id, '-', 2)::integer
        end as event_seq,
        lower(coalesce(
            {{ empty_to_null("events.object ->> 'broadcaster'") }},
            {{ empty_to_null("events.payload ->> 'broadcaster'") }}
        )) as broadcaster,
        case when jsonb_typeof(events.object -> 'user') = 'object' then events.object -> 'user' end as actor,
        case when jsonb_typeof(events.object -> 'message') = 'object' then events.object -> 'message' end as message_object,
        case when jsonb_typeof(events.object -> 'tip') = 'object' then events.object -> 'tip' end as tip,
        case when jsonb_typeof(events.object -> 'media') = 'object' then events.object -> 'media' end as media
    from events
    where events.nth_in_landing = 1

),

renamed as (

    select
        -- raw plumbing
        parsed.batch_id,
        parsed.row_no,
        parsed.landed_at,

        -- the event
        parsed.event_id,
        parsed.method,
        to_timestamp(parsed.event_ms / 1000.0) as occurred_at,
        parsed.event_ms,
        parsed.event_seq,
        parsed.broadcaster,

        -- the actor (object.user)
        lower({{ empty_to_null("parsed.actor ->> 'username'") }}) as username,
        case when {{ empty_to_null("parsed.actor ->> 'username'") }} is not null then
            {{ person_id("'chaturbate'", "btrim(parsed.actor ->> 'username')") }}
        end as person_id,
        coalesce(
            parsed.actor is null
            or lower({{ empty_to_null("parsed.actor ->> 'username'") }}) = parsed.broadcaster
            or lower({{ empty_to_null("parsed.actor ->> 'username'") }}) = {{ owner_username() }},
            false
        ) as is_owner_event,

        -- what happened
        case when parsed.method in ('tip', 'mediaPurchase') then
            {{ try_cast("btrim(coalesce(parsed.tip ->> 'tokens', parsed.media ->> 'tokens'))", 'integer') }}
        end as tokens,
        case
            when parsed.method = 'tip'
                then {{ empty_to_null("regexp_replace(parsed.tip ->> 'message', '^\\|\\s?', '')") }}
            when parsed.method = 'roomSubjectChange'
                then {{ empty_to_null("parsed.object ->> 'subject'") }}
            else {{ empty_to_null("parsed.message_object ->> 'message'") }}
        end as message,
        {{ try_cast("btrim(parsed.tip ->> 'isAnon')", 'boolean') }} as is_anon,
        lower({{ empty_to_null("parsed.message_object ->> 'fromUser'") }}) as from_user,
        lower({{ empty_to_null("parsed.message_object ->> 'toUser'") }}) as to_user,
        {{ empty_to_null("parsed.media ->> 'id'") }} as media_id,
        {{ empty_to_null("parsed.media ->> 'type'") }} as media_type,
        {{ empty_to_null("parsed.media ->> 'name'") }} as media_name,

        -- the actor's flags
        {{ try_cast("btrim(parsed.actor ->> 'inFanclub')", 'boolean') }} as in_fanclub,
        {{ try_cast("btrim(parsed.actor ->> 'isMod')", 'boolean') }} as is_mod,
        {{ try_cast("btrim(parsed.actor ->> 'hasTokens')", 'boolean') }} as has_tokens,
        lower({{ empty_to_null("parsed.actor ->> 'recentTips'") }}) as recent_tips,
        coalesce(gender_codes.gender_code, lower({{ empty_to_null("parsed.actor ->> 'gender'") }})) as gender,
        lower({{ empty_to_null("parsed.actor ->> 'subgender'") }}) as subgender,

        -- the raw object
        parsed.object

    from parsed
    left join gender_codes
        on gender_codes.raw_value = lower(btrim(parsed.actor ->> 'gender'))

),

final as (

    select
        batch_id,
        row_no,
        landed_at,
        event_id,
        method,
        occurred_at,
        event_ms,
        event_seq,
        broadcaster,
        username,
        person_id,
        is_owner_event,
        tokens,
        message,
        is_anon,
        from_user,
        to_user,
        media_id,
        media_type,
        media_name,
        in_fanclub,
        is_mod,
        has_tokens,
        recent_tips,
        gender,
        subgender,
        object
    from renamed

)

select
    -- null: a good row; else why it is set aside (stg_<source>__rejects lists it)
    {{ reject_reason([
        ("occurred_at is null", "'malformed event id ' || quote_literal(event_id) || ' (expected <epoch ms>-<sequence>)'"),
        ("method is null", "'event without a method'"),
        ("object -> 'user' is not null and jsonb_typeof(object -> 'user') = 'object' and username is null", "'event user without a username'"),
        ("gender is not null and gender not in ('f', 'm', 't', 'c')", unknown_code_reason('gender code', 'gender', 'gender_codes'))
    ]) }} as reject_reason,
    final.*
from final
