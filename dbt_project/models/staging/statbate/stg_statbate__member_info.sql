{#-
    One row per StatBate member-info answer (raw.statbate_member_info): a
    success (is_found) with its fields cast and renamed, or a 404 "Member
    not found" (is_found false, error_message set: a fact about that
    username, every data column null). The username comes from the request
    URL (/members/<site>/<name>/info). Dates are read in both StatBate
    formats ("YYYY-MM-DD HH:MM:SS", UTC as requested, or ISO-8601 with Z /
    offset) into timestamptz; the two-week model lists become text[];
    per_day_tokens stays jsonb ([{date, tokens}]). captured_at is the fetch
    time. A view: history is kept in statbate_member_info.
-#}
{%- set text_array -%}
(case when jsonb_typeof(__A__) = 'array' then
    array(
        select lower(btrim(e.value))
        from jsonb_array_elements_text(__A__) with ordinality as e (value, n)
        where btrim(e.value) <> ''
        order by e.n
    )
end)
{%- endset %}

with

source as (

    select * from {{ source('raw', 'statbate_member_info') }}

),

answers as (

    select
        source.batch_id,
        source.row_no,
        source.landed_at,
        source.fetched_at,
        source.payload,
        lower(substring(source.request from '/members/([^/?]+)/[^/?]+/info')) as site,
        lower(coalesce(
            {{ empty_to_null("substring(source.request from '/members/[^/?]+/([^/?]+)/info')") }},
            {{ empty_to_null("source.payload -> 'data' ->> 'name'") }}
        )) as username,
        jsonb_typeof(source.payload -> 'data') = 'object' as is_found,
        case when jsonb_typeof(source.payload -> 'data') = 'object' then source.payload -> 'data' end as data
    from source

),

renamed as (

    select
        -- raw plumbing
        batch_id,
        row_no,
        landed_at,

        -- ids
        {{ person_id("'chaturbate'", 'username') }} as person_id,
        username,
        'chaturbate'::text as platform,
        site,
        fetched_at as captured_at,

        -- the answer
        coalesce(is_found, false) as is_found,
        {{ empty_to_null("payload ->> 'error'") }} as error_message,

        -- member info (found only)
        {{ try_cast("data ->> 'did'", 'bigint') }} as did,
        {{ statbate_time("data ->> 'first_message_date'") }} as first_message_at,
        {{ statbate_time("data ->> 'first_tip_date'") }} as first_tip_at,
        {{ statbate_time("data ->> 'last_tip_date'") }} as last_tip_at,
        {{ try_cast("data ->> 'last_tip_amount'", 'integer') }} as last_tip_amount,
        lower({{ empty_to_null("data ->> 'last_tip_to'") }}) as last_tip_to,
        {{ try_cast("data ->> 'models_messaged_2weeks'", 'integer') }} as models_messaged_2weeks,
        {{ text_array | replace('__A__', "data -> 'models_messaged_2weeks_list'") }} as models_messaged_2weeks_list,
        {{ try_cast("data ->> 'models_tipped_2weeks'", 'integer') }} as models_tipped_2weeks,
        {{ text_array | replace('__A__', "data -> 'models_tipped_2weeks_list'") }} as models_tipped_2weeks_list,
        case when jsonb_typeof(data -> 'per_day_tokens') = 'array' then data -> 'per_day_tokens' end as per_day_tokens,
        {{ try_cast("data ->> 'all_time_tokens'", 'bigint') }} as all_time_tokens

    from answers

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
        did,
        first_message_at,
        first_tip_at,
        last_tip_at,
        last_tip_amount,
        last_tip_to,
        models_messaged_2weeks,
        models_messaged_2weeks_list,
        models_tipped_2weeks,
        models_tipped_2weeks_list,
        per_day_tokens,
        all_time_tokens
    from renamed

)

select
    -- null: a good row; else why it is set aside (stg_<source>__rejects lists it)
    {{ reject_reason([
        ("username is null or btrim(username) = ''", "'blank or missing username'")
    ]) }} as reject_reason,
    final.*
from final
