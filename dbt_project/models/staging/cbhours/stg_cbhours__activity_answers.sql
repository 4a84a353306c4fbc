{#-
    One row per CBHours get_activity answer: which model and date range was
    asked (the username the request was for, landed as a column, else the
    answer's `model`; tzo, start_date and end_date parsed from the request
    URL), and whether it
    succeeded. A success has status true; the trophy-database error is
    {"status": "error", "message": "Error Code:300 ..."} (status may also be
    false). in_trophy_db is true for a success, false for error code 300 and
    null for any other error. The segments of the answers are in
    stg_cbhours__activity. An answer whose model cannot be read is dropped
    (nothing can be keyed on it).
-#}

with

source as (

    select * from {{ source('raw', 'cbhours_activity') }}

),

parsed as (

    select
        batch_id,
        row_no,
        landed_at,
        fetched_at,
        payload,
        lower(coalesce(username, {{ empty_to_null("payload ->> 'model'") }})) as username,
        coalesce({{ try_cast(url_param('request', 'tzo', '[+-]?[0-9]+'), 'integer') }}, 0) as tzo,
        {{ try_cast(url_param('request', 'start_date', '[0-9]{4}-[0-9]{2}-[0-9]{2}'), 'date') }} as start_date,
        {{ try_cast(url_param('request', 'end_date', '[0-9]{4}-[0-9]{2}-[0-9]{2}'), 'date') }} as end_date,
        lower(btrim(payload ->> 'status')) = 'true' as is_success,
        {{ empty_to_null("payload ->> 'message'") }} as error_message
    from source

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
        fetched_at,

        -- the request
        tzo,
        start_date,
        end_date,

        -- the answer
        coalesce(is_success, false) as is_success,
        case when not coalesce(is_success, false) then
            {{ try_cast("substring(error_message from 'Error Code: *([0-9]+)')", 'integer') }}
        end as error_code,
        case when not coalesce(is_success, false) then
            coalesce(error_message, 'status: ' || coalesce(payload ->> 'status', 'missing'))
        end as error_message,
        case
            when coalesce(is_success, false) then true
            when {{ try_cast("substring(error_message from 'Error Code: *([0-9]+)')", 'integer') }} = 300 then false
        end as in_trophy_db,
        case when coalesce(is_success, false) then
            {{ try_cast("btrim(payload -> 'total_time' ->> 'hours')", 'integer') }} * 60
            + {{ try_cast("btrim(payload -> 'total_time' ->> 'minutes')", 'integer') }}
        end as total_minutes,
        case when coalesce(is_success, false) and jsonb_typeof(payload -> 'details') = 'object' then
            (select count(*)::integer
             from jsonb_each(payload -> 'details') as day (day, segments)
             cross join lateral jsonb_array_elements(
                 case when jsonb_typeof(day.segments) = 'array' then day.segments else '[]'::jsonb end
             ))
        end as segment_count

    from parsed
    where username is not null

),

final as (

    select
        batch_id,
        row_no,
        landed_at,
        fetched_at,
        person_id,
        username,
        platform,
        tzo,
        start_date,
        end_date,
        is_success,
        error_code,
        error_message,
        in_trophy_db,
        total_minutes,
        segment_count
    from renamed

)

select
    -- null: a good row; else why it is set aside (stg_<source>__rejects lists it)
    {{ reject_reason([
        ("username is null or btrim(username) = ''", "'blank or missing username'")
    ]) }} as reject_reason,
    final.*
from final
