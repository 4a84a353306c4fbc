{#-
    One row per StatBate model-info answer (raw.statbate_model_info): a
    success (is_found) with its fields cast and renamed, or a 404 "Model not
    found" (is_found false, error_message set: a fact about that username,
    every data column null). The username comes from the request URL
    (/model/<site>/<name>/info), so a 404 names its person too. gender
    integers go through gender_codes (vocabulary 'statbate': 0 m, 1 f, 2 t,
    3 c); meta.range dates are read in both StatBate formats
    ("YYYY-MM-DD HH:MM:SS", UTC as requested, or ISO-8601 with Z / offset).
    captured_at is the fetch time. A view: history is kept in
    statbate_model_info (product schema).
-#}

with

source as (

    select * from {{ source('raw', 'statbate_model_info') }}

),

gender_codes as (

    select raw_value, gender_code
    from {{ ref('gender_codes') }}
    where vocabulary = 'statbate'

),

answers as (

    select
        source.batch_id,
        source.row_no,
        source.landed_at,
        source.fetched_at,
        source.payload,
        lower(substring(source.request from '/model/([^/?]+)/[^/?]+/info')) as site,
        lower(coalesce(
            {{ empty_to_null("substring(source.request from '/model/[^/?]+/([^/?]+)/info')") }},
            {{ empty_to_null("source.payload -> 'data' ->> 'name'") }}
        )) as username,
        jsonb_typeof(source.payload -> 'data') = 'object' as is_found,
        case when jsonb_typeof(source.payload -> 'data') = 'object' then source.payload -> 'data' end as data
    from source

),

renamed as (

    select
        -- raw plumbing
        answers.batch_id,
        answers.row_no,
        answers.landed_at,

        -- ids
        {{ person_id("'chaturbate'", 'answers.username') }} as person_id,
        answers.username,
        'chaturbate'::text as platform,
        answers.site,
        answers.fetched_at as captured_at,

        -- the answer
        coalesce(answers.is_found, false) as is_found,
        {{ empty_to_null("answers.payload ->> 'error'") }} as error_message,

        -- model info (found only)
        {{ try_cast("answers.data ->> 'rid'", 'bigint') }} as rid,
        coalesce(
            gender_codes.gender_code,
            {{ empty_to_null("answers.data ->> 'gender'") }}
        ) as gender,
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
        {{ statbate_time("answers.payload -> 'meta' -> 'range' ->> 0") }} as range_start,
        {{ statbate_time("answers.payload -> 'meta' -> 'range' ->> 1") }} as range_end

    from answers
    left join gender_codes
        on gender_codes.raw_value = lower(btrim(answers.data ->> 'gender'))

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
        site,
        is_found,
        error_message,
        rid,
        gender,
        gender_int,
        rank,
        sessions_count,
        sessions_total_minutes,
        sessions_average_minutes,
        income_tokens,
        income_usd,
        tags,
        range_start,
        range_end
    from renamed

)

select
    -- null: a good row; else why it is set aside (stg_<source>__rejects lists it)
    {{ reject_reason([
        ("username is null or btrim(username) = ''", "'blank or missing username'"),
        ("gender is not null and gender not in ('f', 'm', 't', 'c')", unknown_code_reason('gender code', 'gender', 'gender_codes'))
    ]) }} as reject_reason,
    final.*
from final
