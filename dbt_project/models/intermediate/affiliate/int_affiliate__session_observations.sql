{#-
    The Affiliate API's history in the shape broadcast_sessions reads
    (broadcast_session_sources()): one row per (person, crawl) with the
    broadcast's estimated start (session_start = observed_at -
    seconds_online), viewers, followers and the
    show code. A view written as one plain select, without import CTEs:
    PostgreSQL only flattens a view with no WITH clause into the query that
    reads it, and broadcast_sessions needs that for its "newest observation"
    look-up (order by observed_at desc limit 1) to be one backward scan of
    the observed_at index; its landed_at, observed_at and (person_id,
    observed_at) filters reach the indexes of affiliate_api_snapshots either
    way.
-#}

select
    person_id,
    'affiliate'::text as source,
    observed_at,
    session_start as start_estimate,
    viewers,
    followers,
    current_show as show_type,
    landed_at
from {{ ref('affiliate_api_snapshots') }}
