{#-
    The legacy cbhours_activity, shaped exactly like stg_cbhours__activity
    (same columns, same order) plus origin = 'legacy', so cbhours_activity
    folds both. The legacy code stored the CBHours string "0" as NULL
    (parseInt(x) || null): a legacy NULL stays NULL (unknown); no zero is
    invented. fetched_at is when the legacy system wrote the row
    (created_at, the legacy server's New York clock, converted at import).
    timestamp is the CBHours string as the original stored it: it asked for
    UTC (tzo=0), so the import reads it as UTC, not in the legacy zone (the
    payload's column_zones says so); tzo is null (not stored by the original).
-#}

with

source as (

    select * from {{ source('raw', 'legacy_cbhours_activity') }}

),

gender_codes as (

    select raw_value, gender_code from {{ ref('gender_codes') }} where vocabulary = 'cbhours'

),

show_codes as (

    select raw_value, show_code from {{ ref('show_codes') }}

),

renamed as (

    select
        source.batch_id,
        source.row_no,
        source.landed_at,
        coalesce({{ legacy_time('created_at') }}, source.fetched_at) as fetched_at,
        {{ legacy_person() }} as person_id,
        source.payload ->> 'username' as username,
        'chaturbate'::text as platform,
        {{ legacy_time('timestamp') }} as timestamp,
        null::integer as tzo,
        {{ empty_to_null(legacy_col('show_type')) }} as segment_type,
        coalesce(show_codes.show_code, {{ empty_to_null("lower(" ~ legacy_col('show_type') ~ ")") }}) as show_type,
        {{ try_cast(legacy_col('rank'), 'integer') }} as rank,
        {{ try_cast(legacy_col('grank'), 'integer') }} as grank,
        {{ try_cast(legacy_col('followers'), 'integer') }} as followers,
        {{ try_cast(legacy_col('viewers'), 'integer') }} as viewers,
        coalesce(gender_codes.gender_code, {{ empty_to_null("lower(" ~ legacy_col('gender') ~ ")") }}) as gender,
        'legacy'::text as origin
    from source
    left join gender_codes
        on gender_codes.raw_value = lower(btrim({{ legacy_col('gender') }}))
    left join show_codes
        on show_codes.raw_value = lower(btrim({{ legacy_col('show_type') }}))
    where source.payload ->> 'username' is not null
        and {{ legacy_time('timestamp') }} is not null

)

select
    -- null: a good row; else why it is set aside (stg_<source>__rejects lists it)
    {{ reject_reason([
        ("username is null or btrim(username) = ''", "'blank or missing username'"),
        ("\"timestamp\" is null", "'no timestamp'"),
        ("gender is not null and gender not in ('f', 'm', 't', 'c')", unknown_code_reason('gender code', 'gender', 'gender_codes')),
        ("show_type is not null and show_type not in ('public', 'private', 'group', 'away', 'hidden')", unknown_code_reason('show type', 'show_type', 'show_codes'))
    ]) }} as reject_reason,
    renamed.*
from renamed
