{#-
    One row per tip on a StatBate tips page (raw.statbate_tips), model tips
    and member tips in one shape: the receiving model, the tipping member,
    the time (both StatBate formats: "YYYY-MM-DD HH:MM:SS", UTC as
    requested, or ISO-8601 with Z / offset), tokens and usd. The side the
    page was fetched from (seen_from 'model' or 'member') and the page's own
    person come from the request URL: on a model page the tipper is
    data[].name (did) and the model the page's person (meta.model.id is its
    rid); on a member page the model is data[].model (rid) and the tipper
    the page's person (meta.member.id is its did). The same tip seen from
    both sides, or on two overlapping windows, gives the same tip identity
    (model, member, tipped_at, tokens, occurrence): statbate_tips keeps it
    once. Two identical rows on one page are two real tips (the same amount
    in the same second): `occurrence` numbers them (1, 2, ...) within their
    page, so a page that shows a tip twice makes two identities, and another
    page showing it once matches the first of them. Rows
    whose time or tokens cannot be read are dropped here (the loader already
    quarantines them). A view.
-#}

with

source as (

    select * from {{ source('raw', 'statbate_tips') }}

),

pages as (

    select
        source.batch_id,
        source.row_no,
        source.landed_at,
        source.fetched_at,
        source.payload,
        case substring(source.request from '/(model|members)/[^/?]+/[^/?]+/tips')
            when 'model' then 'model'
            when 'members' then 'member'
        end as seen_from,
        lower(substring(source.request from '/(?:model|members)/[^/?]+/([^/?]+)/tips')) as page_person
    from source

),

tips as (

    select
        pages.batch_id,
        pages.row_no,
        tip.n::integer as tip_no,
        pages.landed_at,
        pages.fetched_at,
        pages.seen_from,
        case when pages.seen_from = 'model'
            then pages.page_person
            else lower({{ empty_to_null("tip.value ->> 'model'") }})
        end as model_username,
        case when pages.seen_from = 'model'
            then lower({{ empty_to_null("tip.value ->> 'name'") }})
            else pages.page_person
        end as member_username,
        {{ statbate_time("tip.value ->> 'time'") }} as tipped_at,
        {{ try_cast("tip.value ->> 'tokens'", 'integer') }} as tokens,
        {{ try_cast("tip.value ->> 'usd'", 'numeric') }} as usd,
        case when pages.seen_from = 'model'
            then {{ try_cast("pages.payload -> 'meta' -> 'model' ->> 'id'", 'bigint') }}
            else {{ try_cast("tip.value ->> 'rid'", 'bigint') }}
        end as rid,
        case when pages.seen_from = 'model'
            then {{ try_cast("tip.value ->> 'did'", 'bigint') }}
            else {{ try_cast("pages.payload -> 'meta' -> 'member' ->> 'id'", 'bigint') }}
        end as did
    from pages
    cross join lateral jsonb_array_elements(
        case when jsonb_typeof(pages.payload -> 'data') = 'array' then pages.payload -> 'data' else '[]'::jsonb end
    ) with ordinality as tip (value, n)
    where pages.seen_from is not null
        and jsonb_typeof(tip.value) = 'object'

),

final as (

    select
        batch_id,
        row_no,
        tip_no,
        -- identical tips on one page are distinct tips: number them within the page
        row_number() over (
            partition by batch_id, row_no, model_username, member_username, tipped_at, tokens
            order by tip_no
        )::integer as occurrence,
        landed_at,
        fetched_at,
        seen_from,
        {{ person_id("'chaturbate'", 'model_username') }} as model_person_id,
        model_username,
        {{ person_id("'chaturbate'", 'member_username') }} as member_person_id,
        member_username,
        'chaturbate'::text as platform,
        tipped_at,
        tokens,
        usd,
        rid,
        did
    from tips

)

select
    -- null: a good row; else why it is set aside (stg_<source>__rejects lists it)
    {{ reject_reason([
        ("model_username is null", "'tip without a model username'"),
        ("member_username is null", "'tip without a member username'"),
        ("tipped_at is null", "'unparseable tip time'"),
        ("tokens is null", "'tokens missing or not an integer'")
    ]) }} as reject_reason,
    final.*
from final
