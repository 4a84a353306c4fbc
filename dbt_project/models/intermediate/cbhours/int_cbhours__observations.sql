{#-
    CBHours' field observations, (person_id, field, source = 'cbhours', value
    jsonb, observed_at, landed_at):

    - from cbhours_live_stats (observed_at = checked_at): is_online for every
      entry (true for Online, false for Offline: a fresh Offline entry is
      what turns a person offline when no better source is fresh), and only
      for Online entries the live values current_show, room_subject, viewers,
      followers, tags, rank, grank and gender;
    - from cbhours_activity (observed_at = the segment's time): rank, grank
      and followers of every segment. They are the same measurements as
      get_live's, for the models whose activity is fetched; the newest
      observation per field wins in int_field_observations, so they only
      count when they are newer than the latest live entry (e.g. while
      get_live is not polled). Activity's viewers and show type are not used:
      live fields come from get_live only.
    Profile-only fields (profile_fields(); merge_rules does not list them, so
    the merge ignores them): is_new of Online entries, and last_broadcast_at,
    whose value is the time of an Online entry or of an activity segment.
    Empty values are dropped: they never win the merge. A view:
    int_field_observations reads it with a landed_at filter, which PostgreSQL
    pushes down into both branches and to the landed_at indexes.
-#}

with

live as (

    select * from {{ ref('cbhours_live_stats') }}
    where room_status in ('Online', 'Offline')

),

activity as (

    select * from {{ ref('cbhours_activity') }}

),

live_unpivoted as (

    select
        live.person_id,
        field.field,
        'cbhours'::text as source,
        field.value,
        live.checked_at as observed_at,
        live.landed_at
    from live
    cross join lateral (
        values
            ('is_online', to_jsonb(live.is_online)),
            ('current_show', case when live.is_online then to_jsonb(live.current_show) end),
            ('room_subject', case when live.is_online then to_jsonb(live.room_subject) end),
            ('viewers', case when live.is_online then to_jsonb(live.viewers) end),
            ('followers', case when live.is_online then to_jsonb(live.followers) end),
            ('tags', case when live.is_online then to_jsonb(live.tags) end),
            ('rank', case when live.is_online then to_jsonb(live.rank) end),
            ('grank', case when live.is_online then to_jsonb(live.grank) end),
            ('gender', case when live.is_online then to_jsonb(live.gender) end),
            -- profile-only fields (profile_fields(), not merged)
            ('is_new', case when live.is_online then to_jsonb(live.is_new) end),
            ('last_broadcast_at', case when live.is_online then to_jsonb({{ utc_iso_text('live.checked_at') }}) end)
    ) as field (field, value)

),

activity_unpivoted as (

    select
        activity.person_id,
        field.field,
        'cbhours'::text as source,
        field.value,
        activity.timestamp as observed_at,
        activity.landed_at
    from activity
    cross join lateral (
        values
            ('rank', to_jsonb(activity.rank)),
            ('grank', to_jsonb(activity.grank)),
            ('followers', to_jsonb(activity.followers)),
            -- profile-only: a segment is a sample of a running broadcast
            ('last_broadcast_at', to_jsonb({{ utc_iso_text('activity.timestamp') }}))
    ) as field (field, value)

),

unioned as (

    select * from live_unpivoted
    union all
    select * from activity_unpivoted

),

final as (

    select
        person_id,
        field,
        source,
        value,
        observed_at,
        landed_at
    from unioned
    where not {{ jsonb_is_empty('value') }}

)

select * from final
