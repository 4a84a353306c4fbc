{#-
    The legacy StatBate table (snapshots -> statbate_api_polling), rows with
    source statbate_model, in the shape of stg_statbate__model_info (same
    columns, same order) plus origin = 'legacy', so statbate_model_info
    folds both. raw_payload is the API's `data` object; captured_at is a UTC
    instant (converted at import from the legacy zone); gender integers go
    through gender_codes (vocabulary statbate). The legacy system kept only
    a baseline and the latest row per person, updating the latest in place
    (new captured_at and raw_payload): the import lands each version it
    reads, and each is an answer at its own captured_at.
-#}

with

source as (

    select * from {{ source('raw', 'legacy_statbate') }}
    where lower(payload -> 'row' ->> 'source') = 'statbate_model'

),

gender_codes as (

    select raw_value, gender_code from {{ ref('gender_codes') }} where vocabulary = 'statbate'

),

answers as (

    select
        source.*,
        source.payload -> 'row' -> 'raw_payload' as data,
        {{ legacy_time('captured_at') }} as captured_at
    from source
    where source.payload ->> 'username' is not null
        and jsonb_typeof(source.payload -> 'row' -> 'raw_payload') = 'object'

),

renamed as (

    select
        answers.batch_id,
        answers.row_no,
        answers.landed_at,
        answers.captured_at,
        {{ legacy_person('answers') }} as person_id,
        answers.payload ->> 'username' as username,
        'chaturbate'::text as platform,
        'chaturbate'::text as site,
        true as is_found,
        null::text as error_message,
        {{ try_cast("answers.data ->> 'rid'", 'bigint') }} as rid,
        coalesce(gender_codes.gender_code, {{ empty_to_null("answers.data ->> 'gender'") }}) as gender,
        {{ try_cast("answers.data ->> 'gender'", 'integer') }} as gender_int,
        {{ try_cast("answers.data ->> 'rank'", 'integer') }} as rank,
        {{ try_cast("answers.data -> 'sessions' ->> 'count'", 'integer') }} as sessions_count,
        {{ try_cast("answers.data -> 'sessions' ->> 'total_duration'", 'integer') }} as sessions_total_minutes,
        {{ try_cast("answers.data -> 'sessions' ->> 'average_duration'", 'integer') }} as sessions_average_minutes,
        {{ try_cast("answers.data -> 'income' ->> 'tokens'", 'bigint') }} as income_tokens,
        {{ try_cast("answers.data -> 'income' ->> 'usd'", 'numeric') }} as income_usd,
        case when jsonb_typeof(answers.data -> 'tags') = 'array' then
            array(
                select tag.value ->> 'name'
                from jsonb_array_elements(answers.data -> 'tags') with ordinality as tag (value, n)
                where jsonb_typeof(tag.value) = 'object' and btrim(coalesce(tag.value ->> 'name', '')) <> ''
                order by tag.n
            )
        end as tags,
        null::timestamptz as range_start,
        null::timestamptz as range_end,
        'legacy'::text as origin
    from answers
    left join gender_codes
        on gender_codes.raw_value = lower(btrim(answers.data ->> 'gender'))
    where answers.captured_at is not null

)

select
    -- null: a good row; else why it is set aside (stg_<source>__rejects lists it)
    {{ reject_reason([
        ("username is null or btrim(username) = ''", "'blank or missing username'"),
        ("captured_at is null", "'no captured_at'")
    ]) }} as reject_reason,
    renamed.*
from renamed
