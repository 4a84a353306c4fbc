select person_id, username, platform, 'model'::text as role, observed_at as seen_at, landed_at
from {{ ref('toy_snapshots') }}
