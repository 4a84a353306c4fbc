{#-
    One row per activity segment (a 3-minute sample) of a successful CBHours
    get_activity answer: the answer's details object flattened. The segment
    `timestamp` is local time per the request's tzo (minutes, local minus
    UTC), so UTC = local - tzo minutes; it becomes a timestamptz. Digit
    strings become integers ("0" is 0, not null; "" or garbage is null);
    gender is a code (f/m/t/c, through gender_codes, vocabulary 'cbhours');
    the segment type (_public, _private, _ticket, _group) is kept as
    segment_type and mapped through show_codes to show_type. A segment
    repeated within a batch (overlapping ranges) keeps its first answer;
    landed_at is part of that partition so that the landed_at filter of
    cbhours_activity is pushed below the window function. A segment whose
    timestamp cannot be read keeps a null timestamp (the not_null test
    reports it; cbhours_activity skips it).
-#}

with

source as (

    select * from {{ source('raw', 'cbhours_activity') }}

),

{{ code_lookups('cbhours') }}

answers as (

    select
        batch_id,
        row_no,
        landed_at,
        fetched_at,
        payload,
        lower(coalesce(username, {{ empty_to_null("payload ->> 'model'") }})) as username,
        coalesce({{ try_cast(url_param('request', 'tzo', '[+-]?[0-9]+'), 'integer') }}, 0) as tzo
    from source
    where lower(btrim(payload ->> 'status')) = 'true'
        and jsonb_typeof(payload -> 'details') = 'object'

),

segments as (

    select
        answers.batch_id,
        answers.row_no,
        answers.landed_at,
        answers.fetched_at,
        answers.username,
        answers.tzo,
        segment.value as segment,
        (
            {{ try_cast("btrim(segment.value ->> 'timestamp')", 'timestamp') }}
            - make_interval(mins => answers.tzo)
        ) at time zone 'UTC' as segment_at,
        day.day,
        segment.n as nth_in_day
    from answers
    cross join lateral jsonb_each(answers.payload -> 'details') as day (day, segments)
    cross join lateral jsonb_array_elements(
        case when jsonb_typeof(day.segments) = 'array' then day.segments else '[]'::jsonb end
    ) with ordinality as segment (value, n)
    where answers.username is not null
        and jsonb_typeof(segment.value) = 'object'

),

deduplicated as (

    select
        segments.*,
        row_number() over (
            partition by batch_id, landed_at, username, segment_at
            order by row_no, day, nth_in_day
        ) as nth_in_batch
    from segments

),

renamed as (

    select
        -- raw plumbing
        deduplicated.batch_id,
        deduplicated.row_no,
        deduplicated.landed_at,
        deduplicated.fetched_at,

        -- ids
        {{ person_id("'chaturbate'", 'deduplicated.username') }} as person_id,
        deduplicated.username,
        'chaturbate'::text as platform,

        -- time (UTC)
        deduplicated.segment_at as timestamp,
        deduplicated.tzo,

        -- segment
        {{ empty_to_null("deduplicated.segment ->> 'type'") }} as segment_type,
        coalesce(show_codes.show_code, {{ empty_to_null("lower(deduplicated.segment ->> 'type')") }}) as show_type,
        {{ try_cast("btrim(deduplicated.segment ->> 'rank')", 'integer') }} as rank,
        {{ try_cast("btrim(deduplicated.segment ->> 'grank')", 'integer') }} as grank,
        {{ try_cast("btrim(deduplicated.segment ->> 'followers')", 'integer') }} as followers,
        {{ try_cast("btrim(deduplicated.segment ->> 'viewers')", 'integer') }} as viewers,
        coalesce(gender_codes.gender_code, {{ empty_to_null("lower(deduplicated.segment ->> 'gender')") }}) as gender

    from deduplicated
    left join gender_codes
        on gender_codes.raw_value = lower(btrim(deduplicated.segment ->> 'gender'))
    left join show_codes
        on show_codes.raw_value = lower(btrim(deduplicated.segment ->> 'type'))
    where deduplicated.nth_in_batch = 1

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
        timestamp,
        tzo,
        segment_type,
        show_type,
        rank,
        grank,
        followers,
        viewers,
        gender
    from renamed

)

select
    -- null: a good row; else why it is set aside (stg_<source>__rejects lists it)
    {{ reject_reason([
        ("username is null or btrim(username) = ''", "'blank or missing username'"),
        ("\"timestamp\" is null", "'unparseable segment time'"),
        ("gender is not null and gender not in ('f', 'm', 't', 'c')", unknown_code_reason('gender code', 'gender', 'gender_codes')),
        ("show_type is not null and show_type not in ('public', 'private', 'group', 'away', 'hidden')", unknown_code_reason('show type', 'show_type', 'show_codes'))
    ]) }} as reject_reason,
    final.*
from final
