{#-
    No two sessions of one person and source overlap, in broadcast_sessions
    and across it and v_broadcast_sessions_open (every observation belongs to
    one session). Checked for the sessions landed in the last day against
    their neighbours (index look-ups), like the other tests on history.
-#}

with

recent as (

    select * from {{ ref('v_broadcast_sessions') }}
    where landed_at > {{ checks_since() }}

),

overlapping as (

    select
        recent.session_id,
        other.session_id as overlapping_session_id
    from recent
    inner join {{ ref('v_broadcast_sessions') }} as other
        on other.person_id = recent.person_id
        and other.source = recent.source
        and other.session_id <> recent.session_id
        and other.first_observed_at <= recent.ended_at
        and other.ended_at >= recent.first_observed_at

)

select * from overlapping
