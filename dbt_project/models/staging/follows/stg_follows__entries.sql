{#-
    One row per (captured list, person listed): the users of every capture
    in raw.follow_lists, with the capture's direction, source and
    completeness (read the same way as stg_follows__lists). Usernames are
    lower-cased (the loader already does; this guards saved files); a name
    listed twice in one capture is kept once (landed_at is part of the
    DISTINCT ON key so that a landed_at filter downstream reaches the raw
    table's index). is_online is true for a room from the online
    followed-rooms list, false for one from the offline list, null when the
    source does not say (followers, saved pages, export files).
-#}

with

source as (

    select * from {{ source('raw', 'follow_lists') }}
    where row_no = 0

),

users as (

    select
        source.batch_id,
        source.landed_at,
        source.fetched_at as captured_at,
        lower(btrim(source.payload ->> 'direction')) as direction,
        case when lower(btrim(source.payload ->> 'via')) = 'import' then 'import' else 'list' end as source,
        coalesce({{ try_cast("btrim(source.payload ->> 'complete')", 'boolean') }}, false) as is_complete,
        users.ordinality::integer as position,
        lower(btrim(users.value ->> 'username')) as username,
        {{ empty_to_null("users.value ->> 'list'") }} as list_name,
        case when jsonb_typeof(users.value -> 'room') = 'object' then users.value -> 'room' end as room
    from source
    cross join lateral jsonb_array_elements(
        case when jsonb_typeof(source.payload -> 'users') = 'array' then source.payload -> 'users' else '[]' end
    ) with ordinality as users (value, ordinality)

),

deduplicated as (

    select distinct on (landed_at, batch_id, username) *
    from users
    order by landed_at, batch_id, username, position

),

final as (

    select
        batch_id,
        landed_at,
        captured_at,
        direction,
        source,
        is_complete,
        position,
        username,
        {{ person_id("'chaturbate'", 'username') }} as person_id,
        'chaturbate'::text as platform,
        case list_name when 'online' then true when 'offline' then false end as is_online,
        list_name,
        room
    from deduplicated

)

select
    -- null: a good row; else why it is set aside (stg_<source>__rejects lists it)
    {{ reject_reason([
        ("username is null or btrim(username) = ''", "'blank or missing username'")
    ]) }} as reject_reason,
    final.*
from final
