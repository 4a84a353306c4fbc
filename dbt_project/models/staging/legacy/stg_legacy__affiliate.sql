{#-
    The legacy Affiliate table (broadcast_sessions -> affiliate_api_snapshots
    -> affiliate_api_polling), shaped exactly like stg_affiliate__rooms (same
    columns, same order) plus origin = 'legacy', so affiliate_api_snapshots
    folds both. The legacy rows were updated in place (one row per broadcast,
    the latest values): each is ONE observation at its observed_at, never a
    made-up series; session_start is the legacy column (else observed_at -
    seconds_online). Zone-less legacy times are UTC instants here (converted
    at import from the legacy zone). The legacy table has no profile columns
    (display_name, age, gender, ...): they are null. image_url is the API
    image_url, which a later legacy migration kept in image_url_360x270.
-#}

with

source as (

    select * from {{ source('raw', 'legacy_affiliate') }}

),

show_codes as (

    select raw_value, show_code from {{ ref('show_codes') }}

),

renamed as (

    select
        source.batch_id,
        source.row_no,
        source.landed_at,
        {{ legacy_time('observed_at') }} as observed_at,
        {{ legacy_person() }} as person_id,
        source.payload ->> 'username' as username,
        'chaturbate'::text as platform,
        null::text as display_name,
        null::text as gender,
        null::integer as age,
        null::date as birthday,
        null::text as location,
        null::text as country,
        null::text[] as spoken_languages,
        {{ legacy_text_array('tags') }} as tags,
        {{ empty_to_null(legacy_col('room_subject')) }} as room_subject,
        coalesce(show_codes.show_code, {{ empty_to_null("lower(" ~ legacy_col('current_show') ~ ")") }}) as current_show,
        {{ try_cast(legacy_col('is_hd'), 'boolean') }} as is_hd,
        null::boolean as is_new,
        {{ try_cast(legacy_col('num_users'), 'integer') }} as viewers,
        {{ try_cast(legacy_col('num_followers'), 'integer') }} as followers,
        {{ try_cast(legacy_col('seconds_online'), 'integer') }} as seconds_online,
        coalesce(
            {{ legacy_time('session_start') }},
            {{ legacy_time('observed_at') }} - make_interval(secs => {{ try_cast(legacy_col('seconds_online'), 'integer') }})
        ) as session_start,
        coalesce({{ empty_to_null(legacy_col('image_url')) }}, {{ empty_to_null(legacy_col('image_url_360x270')) }}) as image_url,
        {{ empty_to_null(legacy_col('image_url_360x270')) }} as image_url_360x270,
        null::text as chat_room_url,
        'legacy'::text as origin
    from source
    left join show_codes
        on show_codes.raw_value = lower(btrim({{ legacy_col('current_show') }}))
    where source.payload ->> 'username' is not null
        and {{ legacy_time('observed_at') }} is not null

)

select
    -- null: a good row; else why it is set aside (stg_<source>__rejects lists it)
    {{ reject_reason([
        ("username is null or btrim(username) = ''", "'blank or missing username'"),
        ("observed_at is null", "'no observed_at'"),
        ("current_show is not null and current_show not in ('public', 'private', 'group', 'away', 'hidden')", unknown_code_reason('show type', 'current_show', 'show_codes'))
    ]) }} as reject_reason,
    renamed.*
from renamed
