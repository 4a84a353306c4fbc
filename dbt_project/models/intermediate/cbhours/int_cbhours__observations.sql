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

final as (

    -- get_live: is_online of every entry, the other fields only of Online entries
    -- (is_new and last_broadcast_at: profile-only, profile_fields(), not merged)
    {{ unpivot_observations('live', 'cbhours', [
        'is_online', 'current_show', 'room_subject', 'viewers', 'followers', 'tags', 'rank', 'grank', 'gender',
        'is_new',
        ['last_broadcast_at', utc_iso_text('live.checked_at')],
    ], observed_at='checked_at', when='live.is_online', always=['is_online']) }}

    union all

    -- activity: rank, grank, followers; a segment is a sample of a running broadcast
    {{ unpivot_observations('activity', 'cbhours', [
        'rank', 'grank', 'followers',
        ['last_broadcast_at', utc_iso_text('activity.timestamp')],
    ], observed_at='timestamp') }}

)

select * from final
