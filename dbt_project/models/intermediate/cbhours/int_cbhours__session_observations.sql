{#-
    CBHours' activity history in the shape broadcast_sessions reads
    (broadcast_session_sources()): one row per (person, 3-minute segment),
    observed_at being the segment's UTC time, with viewers, followers and the
    show code of the segment. CBHours gives no broadcast start: start_estimate
    is null and a session starts at its first segment. A view written as one
    plain select, without import CTEs, so that PostgreSQL flattens it into
    the query that reads it (see int_affiliate__session_observations): its
    filters and the "newest observation" look-up reach the indexes of
    cbhours_activity.
-#}

select
    person_id,
    'cbhours_activity'::text as source,
    timestamp as observed_at,
    null::timestamptz as start_estimate,
    viewers,
    followers,
    show_type,
    landed_at
from {{ ref('cbhours_activity') }}
