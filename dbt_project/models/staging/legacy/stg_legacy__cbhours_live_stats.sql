{#-
    The legacy cbhours_live_stats, shaped exactly like stg_cbhours__live
    (same columns, same order) plus origin = 'legacy', so cbhours_live_stats
    folds both. Gender words (Female, Male, ...) go through gender_codes
    (vocabulary cbhours), current_show through show_codes; checked_at is a
    UTC instant (converted at import from the legacy zone). As live, an
    Offline entry carries no live values.
-#}

with

source as (

    select * from {{ source('raw', 'legacy_cbhours_live_stats') }}

),

gender_codes as (

    select raw_value, gender_code from {{ ref('gender_codes') }} where vocabulary = 'cbhours'

),

show_codes as (

    select raw_value, show_code from {{ ref('show_codes') }}

),

parsed as (

    select
        source.*,
        {{ empty_to_null(legacy_col('room_status')) }} as room_status,
        lower(btrim({{ legacy_col('room_status') }})) = 'online' as is_online
    from source
    where source.payload ->> 'username' is not null
        and {{ legacy_time('checked_at') }} is not null

),

renamed as (

    select
        source.batch_id,
        source.row_no,
        source.landed_at,
        {{ legacy_time('checked_at') }} as checked_at,
        {{ legacy_person() }} as person_id,
        source.payload ->> 'username' as username,
        'chaturbate'::text as platform,
        source.room_status,
        coalesce(source.is_online, false) as is_online,
        case when source.is_online then
            coalesce(gender_codes.gender_code, {{ empty_to_null("lower(" ~ legacy_col('gender') ~ ")") }}) end as gender,
        case when source.is_online then {{ try_cast(legacy_col('rank'), 'integer') }} end as rank,
        case when source.is_online then {{ try_cast(legacy_col('grank'), 'integer') }} end as grank,
        case when source.is_online then {{ try_cast(legacy_col('viewers'), 'integer') }} end as viewers,
        case when source.is_online then {{ try_cast(legacy_col('followers'), 'integer') }} end as followers,
        case when source.is_online then
            coalesce(show_codes.show_code, {{ empty_to_null("lower(" ~ legacy_col('current_show') ~ ")") }}) end as current_show,
        case when source.is_online then {{ empty_to_null(legacy_col('room_subject')) }} end as room_subject,
        case when source.is_online then {{ legacy_text_array('tags') }} end as tags,
        case when source.is_online then {{ try_cast(legacy_col('is_new'), 'boolean') }} end as is_new,
        'legacy'::text as origin
    from parsed as source
    left join gender_codes
        on gender_codes.raw_value = lower(btrim({{ legacy_col('gender') }}))
    left join show_codes
        on show_codes.raw_value = lower(btrim({{ legacy_col('current_show') }}))

)

select
    -- null: a good row; else why it is set aside (stg_<source>__rejects lists it)
    {{ reject_reason([
        ("username is null or btrim(username) = ''", "'blank or missing username'"),
        ("checked_at is null", "'no checked_at'"),
        ("gender is not null and gender not in ('f', 'm', 't', 'c')", unknown_code_reason('gender code', 'gender', 'gender_codes')),
        ("current_show is not null and current_show not in ('public', 'private', 'group', 'away', 'hidden')", unknown_code_reason('show type', 'current_show', 'show_codes'))
    ]) }} as reject_reason,
    renamed.*
from renamed
