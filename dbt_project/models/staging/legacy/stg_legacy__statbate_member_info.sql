{#-
    The legacy StatBate table (snapshots -> statbate_api_polling), rows with
    source statbate_member, in the shape of stg_statbate__member_info (same
    columns, same order) plus origin = 'legacy', so statbate_member_info
    folds both. raw_payload is the API's `data` object; captured_at is a UTC
    instant (converted at import from the legacy zone); StatBate's own dates
    are read as the live model reads them.
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

    select * from {{ source('raw', 'legacy_statbate') }}
    where lower(payload -> 'row' ->> 'source') = 'statbate_member'

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
        batch_id,
        row_no,
        landed_at,
        captured_at,
        {{ legacy_person('answers') }} as person_id,
        payload ->> 'username' as username,
        'chaturbate'::text as platform,
        'chaturbate'::text as site,
        true as is_found,
        null::text as error_message,
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
        {{ try_cast("data ->> 'all_time_tokens'", 'bigint') }} as all_time_tokens,
        'legacy'::text as origin
    from answers
    where captured_at is not null

)

select
    -- null: a good row; else why it is set aside (stg_<source>__rejects lists it)
    {{ reject_reason([
        ("username is null or btrim(username) = ''", "'blank or missing username'"),
        ("captured_at is null", "'no captured_at'")
    ]) }} as reject_reason,
    renamed.*
from renamed
