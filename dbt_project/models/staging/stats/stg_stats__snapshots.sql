{#-
    The Chaturbate Stats API (the owner's own statistics), one row per
    snapshot: cast and renamed, with the API's quirks normalised:
    - every -1 sentinel becomes null: time_online -1 (not broadcasting) and
      last_broadcast -1 (never broadcast); -1 in a counter would be a
      sentinel too (no count is negative), so it is null as well;
    - last_broadcast is a naive ISO string (Python isoformat, maybe with
      microseconds) taken as UTC; a string with an explicit offset (Z,
      +02:00) keeps it; the int -1, any other number, a string that is not
      an ISO date-time (PostgreSQL would read 'yesterday') give null (the
      raw value is kept in last_broadcast_raw);
    - tips_in_last_hour and satisfaction_score may be null;
    - numbers are read through text, so JSON numbers and digit strings both
      work; anything else is null.
    captured_at is the cycle's fetched_at. The only model that reads
    raw.stats_api. A view: no history is kept here.
    The legacy MHC Control Panel's Stats API polling rows (source cb_stats
    in its StatBate table, imported by mhc import-legacy) come through the
    same rules: their raw_payload is the same answer, captured_at their
    captured_at converted to UTC at import, origin 'legacy'.
-#}

with

live as (

    select batch_id, row_no, landed_at, fetched_at, payload, 'live'::text as origin
    from {{ source('raw', 'stats_api') }}

),

legacy as (

    select
        source.batch_id,
        source.row_no,
        source.landed_at,
        {{ legacy_time('captured_at') }} as fetched_at,
        case
            when btrim(coalesce(source.payload -> 'row' -> 'raw_payload' ->> 'username', '')) <> ''
                then source.payload -> 'row' -> 'raw_payload'
            else (source.payload -> 'row' -> 'raw_payload')
                || jsonb_build_object('username', source.payload ->> 'username')
        end as payload,
        'legacy'::text as origin
    from {{ source('raw', 'legacy_statbate') }} as source
    where lower(source.payload -> 'row' ->> 'source') = 'cb_stats'
        and jsonb_typeof(source.payload -> 'row' -> 'raw_payload') = 'object'
        and {{ legacy_time('captured_at') }} is not null

),

source as (

    select * from live
    union all
    select * from legacy

),

answers as (

    select
        source.batch_id,
        source.row_no,
        source.landed_at,
        source.fetched_at,
        source.payload,
        source.origin,
        lower(btrim(source.payload ->> 'username')) as username,
        btrim(source.payload ->> 'last_broadcast') as last_broadcast_text,
        jsonb_typeof(source.payload -> 'last_broadcast') as last_broadcast_type
    from source
    where jsonb_typeof(source.payload) = 'object'

),

first_in_batch as (

    select
        answers.*,
        row_number() over (
            partition by answers.batch_id, answers.username, answers.fetched_at
            order by answers.row_no
        ) as nth_in_batch
    from answers

),

renamed as (

    select
        -- raw plumbing
        batch_id,
        row_no,
        landed_at,

        -- ids
        {{ person_id("'chaturbate'", 'username') }} as person_id,
        username,
        'chaturbate'::text as platform,
        fetched_at as captured_at,

        -- account
        nullif({{ try_cast("btrim(payload ->> 'token_balance')", 'integer') }}, -1) as token_balance,
        nullif({{ try_cast("btrim(payload ->> 'tips_in_last_hour')", 'integer') }}, -1) as tips_in_last_hour,
        nullif({{ try_cast("btrim(payload ->> 'votes_up')", 'integer') }}, -1) as votes_up,
        nullif({{ try_cast("btrim(payload ->> 'votes_down')", 'integer') }}, -1) as votes_down,
        nullif({{ try_cast("btrim(payload ->> 'satisfaction_score')", 'integer') }}, -1) as satisfaction_score,

        -- broadcasting
        case
            -- only an ISO date-time: PostgreSQL would also read 'yesterday', 'now' or 'epoch'
            when last_broadcast_type = 'string' and last_broadcast_text !~ '^\d{4}-\d{2}-\d{2}'
                then null
            when last_broadcast_type = 'string' and last_broadcast_text ~* '[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)$'
                then {{ try_cast('last_broadcast_text', 'timestamptz') }}
            when last_broadcast_type = 'string'
                then {{ try_cast('last_broadcast_text', 'timestamp') }} at time zone 'UTC'
        end as last_broadcast_at,
        case when last_broadcast_type in ('string', 'number') then last_broadcast_text end as last_broadcast_raw,
        nullif({{ try_cast("btrim(payload ->> 'time_online')", 'integer') }}, -1) as time_online_minutes,
        case
            when {{ try_cast("btrim(payload ->> 'time_online')", 'integer') }} = -1 then false
            when {{ try_cast("btrim(payload ->> 'time_online')", 'integer') }} >= 0 then true
        end as is_broadcasting,

        -- audience
        nullif({{ try_cast("btrim(payload ->> 'num_followers')", 'integer') }}, -1) as num_followers,
        nullif({{ try_cast("btrim(payload ->> 'num_viewers')", 'integer') }}, -1) as num_viewers,
        nullif({{ try_cast("btrim(payload ->> 'num_registered_viewers')", 'integer') }}, -1) as num_registered_viewers,
        nullif({{ try_cast("btrim(payload ->> 'num_tokened_viewers')", 'integer') }}, -1) as num_tokened_viewers,

        -- the answer as received (it carries no credential)
        payload as raw_payload,
        origin

    from first_in_batch
    where nth_in_batch = 1

),

final as (

    select
        batch_id,
        row_no,
        landed_at,
        captured_at,
        person_id,
        username,
        platform,
        token_balance,
        tips_in_last_hour,
        votes_up,
        votes_down,
        satisfaction_score,
        last_broadcast_at,
        last_broadcast_raw,
        time_online_minutes,
        is_broadcasting,
        num_followers,
        num_viewers,
        num_registered_viewers,
        num_tokened_viewers,
        raw_payload,
        origin
    from renamed

)

select
    -- null: a good row; else why it is set aside (stg_<source>__rejects lists it)
    {{ reject_reason([
        ("username is null or btrim(username) = ''", "'blank or missing username'"),
        ("captured_at is null", "'no capture time'")
    ]) }} as reject_reason,
    final.*
from final
