{#-
    One row per captured follow list (raw.follow_lists): the direction
    (following: people the owner follows; follower: people who follow the
    owner), how it came in (via api / html: fetched live, source 'list';
    via import: mhc import-follows, source 'import'), the completeness
    verdict the loader computed (complete only when the names add up to the
    reported total, no page failed, no login or Cloudflare page and no entry
    was rejected), and its figures. Incomplete captures are kept here (they
    are reported), and ignored by the follow history.
-#}

with

source as (

    select * from {{ source('raw', 'follow_lists') }}

),

renamed as (

    select
        batch_id,
        landed_at,
        fetched_at as captured_at,
        lower(btrim(payload ->> 'direction')) as direction,
        lower(btrim(payload ->> 'via')) as via,
        case when lower(btrim(payload ->> 'via')) = 'import' then 'import' else 'list' end as source,
        coalesce({{ try_cast("btrim(payload ->> 'complete')", 'boolean') }}, false) as is_complete,
        {{ try_cast("btrim(payload ->> 'reported_total')", 'integer') }} as reported_total,
        case when jsonb_typeof(payload -> 'users') = 'array' then jsonb_array_length(payload -> 'users') else 0 end
            as listed,
        case when jsonb_typeof(payload -> 'pages') = 'array' then jsonb_array_length(payload -> 'pages') else 0 end
            as pages,
        case when jsonb_typeof(payload -> 'problems') = 'array' then
            array(select jsonb_array_elements_text(payload -> 'problems'))
        else '{}'::text[] end as problems,
        {{ empty_to_null("payload ->> 'verdict'") }} as verdict,
        {{ empty_to_null("payload ->> 'file'") }} as file_name,
        request
    from source
    where row_no = 0

)

select * from renamed
