{#-
    Every broadcast session: the closed ones (broadcast_sessions, written
    once) and those not written yet (v_broadcast_sessions_open, running or
    just ended). A filter on person_id or started_at reaches the indexes of
    both.
-#}
{{ config(materialized='view') }}

with

closed_sessions as (

    select * from {{ ref('broadcast_sessions') }}

),

open_sessions as (

    select * from {{ ref('v_broadcast_sessions_open') }}

),

final as (

    select * from closed_sessions
    union all
    select * from open_sessions

)

select * from final
