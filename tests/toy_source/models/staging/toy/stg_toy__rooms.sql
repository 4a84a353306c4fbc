with

source as (

    select * from {{ source('raw', 'toy_rooms') }}

),

final as (

    select
        case when {{ empty_to_null("payload ->> 'username'") }} is null then 'blank or missing username' end
            as reject_reason,
        batch_id,
        row_no,
        landed_at,
        fetched_at as observed_at,
        lower(btrim(payload ->> 'username')) as username,
        'chaturbate'::text as platform,
        {{ person_id("'chaturbate'", "lower(btrim(payload ->> 'username'))") }} as person_id,
        {{ try_cast("payload ->> 'fans'", 'integer') }} as followers
    from source

)

select * from final
