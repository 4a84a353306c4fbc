{{
    config(
        materialized='incremental',
        unique_key=['person_id', 'observed_at'],
        incremental_strategy='delete+insert',
        contract={'enforced': false},
    )
}}

with

{{ history_first_rows(ref('stg_toy__rooms'), key=['person_id', 'observed_at']) }}

final as (

    select person_id, observed_at, batch_id, username, platform, followers, landed_at
    from new_rows

)

select * from final
