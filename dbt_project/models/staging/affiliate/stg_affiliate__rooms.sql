{#-
    One row per (crawl, person) from the Affiliate API: cast, rename and
    normalise the room object. The loader already de-duplicates usernames
    inside a batch; the guard below keeps the lowest row_no anyway.
    landed_at is part of the de-duplication partition (it is constant within
    a batch: one loader transaction) so that the incremental filter of
    affiliate_api_snapshots on landed_at is pushed below the window function
    and only new rows are read.
-#}

with

source as (

    select * from {{ source('raw', 'affiliate_onlinerooms') }}

),

{{ code_lookups('affiliate') }}

rooms as (

    select
        batch_id,
        row_no,
        landed_at,
        fetched_at,
        payload,
        lower(btrim(payload ->> 'username')) as username,
        row_number() over (
            partition by batch_id, landed_at, lower(btrim(payload ->> 'username'))
            order by row_no
        ) as nth_in_batch
    from source

),

renamed as (

    select
        -- raw plumbing
        rooms.batch_id,
        rooms.row_no,
        rooms.landed_at,

        -- ids
        {{ person_id("'chaturbate'", 'rooms.username') }} as person_id,
        rooms.username,
        'chaturbate'::text as platform,

        -- strings
        {{ empty_to_null("rooms.payload ->> 'display_name'") }} as display_name,
        coalesce(gender_codes.gender_code, {{ empty_to_null("lower(rooms.payload ->> 'gender')") }}) as gender,
        {{ empty_to_null("rooms.payload ->> 'location'") }} as location,
        {{ empty_to_null("rooms.payload ->> 'country'") }} as country,
        {{ empty_to_null("rooms.payload ->> 'room_subject'") }} as room_subject,
        coalesce(show_codes.show_code, {{ empty_to_null("lower(rooms.payload ->> 'current_show')") }}) as current_show,
        {{ empty_to_null("rooms.payload ->> 'image_url'") }} as image_url,
        {{ empty_to_null("rooms.payload ->> 'image_url_360x270'") }} as image_url_360x270,
        {{ empty_to_null("rooms.payload ->> 'chat_room_url'") }} as chat_room_url,

        -- arrays
        nullif(
            array(
                select btrim(language.value)
                from unnest(string_to_array(rooms.payload ->> 'spoken_languages', ',')) with ordinality as language (value, n)
                where btrim(language.value) <> ''
                order by language.n
            ),
            '{}'::text[]
        ) as spoken_languages,
        case when jsonb_typeof(rooms.payload -> 'tags') = 'array' then
            array(
                select tag.value
                from jsonb_array_elements_text(rooms.payload -> 'tags') with ordinality as tag (value, n)
                where btrim(tag.value) <> ''
                order by tag.n
            )
        end as tags,

        -- numerics
        {{ try_cast("rooms.payload ->> 'age'", 'integer') }} as age,
        {{ try_cast("rooms.payload ->> 'num_users'", 'integer') }} as viewers,
        {{ try_cast("rooms.payload ->> 'num_followers'", 'integer') }} as followers,
        {{ try_cast("rooms.payload ->> 'seconds_online'", 'integer') }} as seconds_online,

        -- booleans
        {{ try_cast("rooms.payload ->> 'is_hd'", 'boolean') }} as is_hd,
        {{ try_cast("rooms.payload ->> 'is_new'", 'boolean') }} as is_new,

        -- dates and timestamps (UTC)
        {{ try_cast(empty_to_null("rooms.payload ->> 'birthday'"), 'date') }} as birthday,
        rooms.fetched_at as observed_at,
        rooms.fetched_at
            - make_interval(secs => {{ try_cast("rooms.payload ->> 'seconds_online'", 'integer') }})
            as session_start

    from rooms
    left join gender_codes
        on gender_codes.raw_value = lower(btrim(rooms.payload ->> 'gender'))
    left join show_codes
        on show_codes.raw_value = lower(btrim(rooms.payload ->> 'current_show'))
    where rooms.nth_in_batch = 1

),

final as (

    select
        batch_id,
        row_no,
        landed_at,
        observed_at,
        person_id,
        username,
        platform,
        display_name,
        gender,
        age,
        birthday,
        location,
        country,
        spoken_languages,
        tags,
        room_subject,
        current_show,
        is_hd,
        is_new,
        viewers,
        followers,
        seconds_online,
        session_start,
        image_url,
        image_url_360x270,
        chat_room_url
    from renamed

)

select
    -- null: a good row; else why it is set aside (stg_<source>__rejects lists it)
    {{ reject_reason([
        ("username is null or btrim(username) = ''", "'blank or missing username'"),
        ("observed_at is null", "'no crawl time'"),
        ("gender is not null and gender not in ('f', 'm', 't', 'c')", unknown_code_reason('gender code', 'gender', 'gender_codes')),
        ("current_show is not null and current_show not in ('public', 'private', 'group', 'away', 'hidden')", unknown_code_reason('show type', 'current_show', 'show_codes'))
    ]) }} as reject_reason,
    final.*
from final
