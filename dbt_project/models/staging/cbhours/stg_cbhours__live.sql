{#-
    One row per (live cycle, tracked model) from CBHours get_live: every
    entry of the answer's `data` object, cast, renamed and normalised (gender
    words through gender_codes with vocabulary 'cbhours', show types through
    show_codes, '' as null, numbers cast via text so that "212" and 212 both
    work; a value of the wrong type, e.g. viewers "lots", sets the row aside
    with its reason instead of becoming null). checked_at is the cycle's time
    (raw fetched_at). An Offline entry
    carries only its room_status: every other column is null for it, whatever
    the answer holds. A username repeated in a batch keeps its first answer
    (lowest row_no); landed_at is part of that partition (constant within a
    batch) so that the landed_at filter of cbhours_live_stats is pushed below
    the window function and only new answers are read.
-#}

with

source as (

    select * from {{ source('raw', 'cbhours_live') }}

),

{{ code_lookups('cbhours') }}

entries as (

    select
        source.batch_id,
        source.row_no,
        source.landed_at,
        source.fetched_at,
        lower(btrim(entry.username)) as username,
        entry.room,
        row_number() over (
            partition by source.batch_id, source.landed_at, lower(btrim(entry.username))
            order by source.row_no
        ) as nth_in_batch
    from source
    cross join lateral jsonb_each(
        case when jsonb_typeof(source.payload -> 'data') = 'object' then source.payload -> 'data' else '{}'::jsonb end
    ) as entry (username, room)
    where jsonb_typeof(entry.room) = 'object'

),

statused as (

    select
        entries.*,
        case lower(btrim(entries.room ->> 'room_status'))
            when 'online' then 'Online'
            when 'offline' then 'Offline'
            else {{ empty_to_null("entries.room ->> 'room_status'") }}
        end as room_status
    from entries
    where entries.nth_in_batch = 1

),

renamed as (

    select
        -- raw plumbing
        statused.batch_id,
        statused.row_no,
        statused.landed_at,

        -- ids
        {{ person_id("'chaturbate'", 'statused.username') }} as person_id,
        statused.username,
        'chaturbate'::text as platform,
        statused.fetched_at as checked_at,

        -- status
        statused.room_status,
        coalesce(statused.room_status = 'Online', false) as is_online,

        -- everything below only for Online entries
        case when statused.room_status = 'Online' then
            coalesce(gender_codes.gender_code, {{ empty_to_null("lower(statused.room ->> 'gender')") }})
        end as gender,
        case when statused.room_status = 'Online' then
            {{ try_cast("btrim(statused.room ->> 'rank')", 'integer') }}
        end as rank,
        case when statused.room_status = 'Online' then
            {{ try_cast("btrim(statused.room ->> 'grank')", 'integer') }}
        end as grank,
        case when statused.room_status = 'Online' then
            {{ try_cast("btrim(statused.room ->> 'viewers')", 'integer') }}
        end as viewers,
        case when statused.room_status = 'Online' then
            {{ try_cast("btrim(statused.room ->> 'followers')", 'integer') }}
        end as followers,
        case when statused.room_status = 'Online' then
            coalesce(show_codes.show_code, {{ empty_to_null("lower(statused.room ->> 'current_show')") }})
        end as current_show,
        case when statused.room_status = 'Online' then
            {{ empty_to_null("statused.room ->> 'room_subject'") }}
        end as room_subject,
        case when statused.room_status = 'Online' and jsonb_typeof(statused.room -> 'tags') = 'array' then
            array(
                select tag.value
                from jsonb_array_elements_text(statused.room -> 'tags') with ordinality as tag (value, n)
                where btrim(tag.value) <> ''
                order by tag.n
            )
        end as tags,
        case when statused.room_status = 'Online' then
            {{ try_cast("btrim(statused.room ->> 'is_new')", 'boolean') }}
        end as is_new,
        case when statused.room_status = 'Online' then
            {{ wrong_type_reason([
                ('rank', "statused.room ->> 'rank'", 'integer'),
                ('grank', "statused.room ->> 'grank'", 'integer'),
                ('viewers', "statused.room ->> 'viewers'", 'integer'),
                ('followers', "statused.room ->> 'followers'", 'integer'),
                ('is_new', "statused.room ->> 'is_new'", 'boolean'),
            ]) }}
        end as wrong_type

    from statused
    left join gender_codes
        on gender_codes.raw_value = lower(btrim(statused.room ->> 'gender'))
    left join show_codes
        on show_codes.raw_value = lower(btrim(statused.room ->> 'current_show'))

),

final as (

    select
        -- null: a good row; else why it is set aside (stg_<source>__rejects lists it)
        {{ reject_reason([
            ("username is null or btrim(username) = ''", "'blank or missing username'"),
            ("room_status is null or room_status not in ('Online', 'Offline')", "'unknown room_status ' || coalesce(quote_literal(room_status), 'null')"),
            ("gender is not null and gender not in ('f', 'm', 't', 'c')", unknown_code_reason('gender code', 'gender', 'gender_codes')),
            ("current_show is not null and current_show not in ('public', 'private', 'group', 'away', 'hidden')", unknown_code_reason('show type', 'current_show', 'show_codes')),
            ("wrong_type is not null", "wrong_type")
        ]) }} as reject_reason,
        batch_id,
        row_no,
        landed_at,
        checked_at,
        person_id,
        username,
        platform,
        room_status,
        is_online,
        gender,
        rank,
        grank,
        viewers,
        followers,
        current_show,
        room_subject,
        tags,
        is_new
    from renamed

)

select * from final
