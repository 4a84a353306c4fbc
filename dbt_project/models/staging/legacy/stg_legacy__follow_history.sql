{#-
    The owner's follow relations as the legacy system recorded them, one row
    per observation, for follow_history:
    - every legacy follow_history row (direction following / follower,
      action follow / unfollow, at its created_at);
    - the legacy profiles' follow flags, only where they say the relation
      held (following / follower true, at its checked_at or since): a false
      flag is not used, as the legacy list diff produced mass false
      unfollows (original-system.md); a false flag with no follow_history
      row behind it is no evidence of an unfollow.
    Times are UTC instants (converted at import from the legacy zone).
-#}

with

history as (

    select * from {{ source('raw', 'legacy_follow_history') }}

),

profiles as (

    select * from {{ source('raw', 'legacy_profiles') }}

),

from_history as (

    select
        lower(btrim(history.payload -> 'row' ->> 'direction')) as direction,
        {{ legacy_person('history') }} as person_id,
        history.payload ->> 'username' as username,
        {{ legacy_time('created_at', 'history') }} as occurred_at,
        lower(btrim(history.payload -> 'row' ->> 'action')) = 'follow' as is_following,
        'legacy:follow_history:' || (history.payload -> 'row' ->> 'id') as event_id,
        history.landed_at
    from history
    where history.payload ->> 'username' is not null
        and lower(btrim(history.payload -> 'row' ->> 'direction')) in ('following', 'follower')
        and lower(btrim(history.payload -> 'row' ->> 'action')) in ('follow', 'unfollow')
        and {{ legacy_time('created_at', 'history') }} is not null

),

from_profiles as (

    select
        flag.direction,
        {{ legacy_person('profiles') }} as person_id,
        profiles.payload ->> 'username' as username,
        flag.observed_at as occurred_at,
        true as is_following,
        'legacy:profiles:' || (profiles.payload -> 'row' ->> 'id') || ':' || flag.direction as event_id,
        profiles.landed_at
    from profiles
    cross join lateral (
        values
            ('following', profiles.payload -> 'row' ->> 'following',
                coalesce({{ legacy_time('following_checked_at', 'profiles') }}, {{ legacy_time('following_since', 'profiles') }})),
            ('follower', profiles.payload -> 'row' ->> 'follower',
                coalesce({{ legacy_time('follower_checked_at', 'profiles') }}, {{ legacy_time('follower_since', 'profiles') }}))
    ) as flag (direction, value, observed_at)
    where profiles.payload ->> 'username' is not null
        and flag.value = 'true'
        and flag.observed_at is not null

),

final as (

    select direction, person_id, username, occurred_at, is_following, event_id, landed_at from from_history
    union all
    select direction, person_id, username, occurred_at, is_following, event_id, landed_at from from_profiles

)

select * from final
