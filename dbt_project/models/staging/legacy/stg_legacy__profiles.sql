{#-
    The legacy profiles (one row per person: profile fields and follow
    state), one row per imported row. Gender in words or codes (A Woman,
    Female, f, ...) goes through gender_codes (any vocabulary);
    spoken_languages is TEXT (comma-separated) or TEXT[] depending on the
    legacy migration history: both become text[]. observed_at is when the
    legacy system last wrote the profile (updated_at, else scraped_at, else
    created_at; UTC). Read by int_legacy__profile_observations (profile
    fields, source 'profiles') and int_legacy__follow_state (follow flags).
-#}

with

source as (

    select * from {{ source('raw', 'legacy_profiles') }}

),

gender_codes as (

    -- every vocabulary: the legacy column mixes them
    select distinct on (raw_value) raw_value, gender_code
    from {{ ref('gender_codes') }}
    order by raw_value, vocabulary

),

renamed as (

    select
        -- raw plumbing
        source.batch_id,
        source.row_no,
        source.landed_at,

        -- ids
        {{ legacy_person() }} as person_id,
        source.payload ->> 'username' as username,

        -- profile fields
        {{ empty_to_null(legacy_col('display_name')) }} as display_name,
        {{ try_cast(legacy_col('age'), 'integer') }} as age,
        coalesce(gender_codes.gender_code, {{ empty_to_null("lower(" ~ legacy_col('gender') ~ ")") }}) as gender,
        {{ empty_to_null(legacy_col('location')) }} as location,
        {{ empty_to_null(legacy_col('country')) }} as country,
        {{ legacy_text_array('spoken_languages') }} as spoken_languages,
        {{ legacy_text_array('tags') }} as tags,
        {{ try_cast(legacy_col('is_new'), 'boolean') }} as is_new,
        {{ legacy_time('last_broadcast') }} as last_broadcast_at,

        -- follow state
        {{ try_cast(legacy_col('following'), 'boolean') }} as following,
        {{ try_cast(legacy_col('follower'), 'boolean') }} as follower,
        {{ legacy_time('following_checked_at') }} as following_checked_at,
        {{ legacy_time('follower_checked_at') }} as follower_checked_at,

        -- when the legacy system last wrote it (UTC)
        coalesce({{ legacy_time('updated_at') }}, {{ legacy_time('scraped_at') }}, {{ legacy_time('created_at') }},
            source.fetched_at) as observed_at,
        'legacy'::text as origin

    from source
    left join gender_codes
        on gender_codes.raw_value = lower(btrim({{ legacy_col('gender') }}))
    where source.payload ->> 'username' is not null

)

select
    -- null: a good row; else why it is set aside (stg_<source>__rejects lists it)
    {{ reject_reason([
        ("username is null or btrim(username) = ''", "'blank or missing username'"),
        ("gender is not null and gender not in ('f', 'm', 't', 'c')", unknown_code_reason('gender code', 'gender', 'gender_codes'))
    ]) }} as reject_reason,
    renamed.*
from renamed
