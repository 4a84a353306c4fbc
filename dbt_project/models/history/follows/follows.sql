{#-
    One row per (person, direction): the owner's follow relation as it
    stands after the last change in follow_history. direction following:
    the owner follows the person; follower: the person follows the owner.
    is_active says whether it holds now; since is when the current (or last)
    run of following began, unfollowed_at when it ended (null while
    active); checked_at is the newest complete list of the direction (when
    the whole list last confirmed the state; null when only events spoke).
    A table rebuilt from follow_history (one row per change, so small) on
    every run: --full-refresh gives the same rows.
-#}
{{
    config(
        materialized='table',
        tags=['as_of'],
        indexes=[
            {'columns': ['person_id', 'direction'], 'unique': True},
        ],
    )
}}

with

history as (

    select * from {{ ref('follow_history') }}
    {%- if as_of_schema() %}
    where changed_at <= {{ as_of() }}  -- an as-of build: the changes known at its time
    {%- endif %}

),

latest as (

    select distinct on (direction, person_id) *
    from history
    order by direction, person_id, change_no desc

),

runs as (

    select
        direction,
        person_id,
        max(changed_at) filter (where action = 'follow') as since,
        count(*)::integer as changes,
        max(landed_at) as landed_at
    from history
    group by direction, person_id

),

checked as (

    select direction, max(captured_at) as checked_at
    from {{ ref('follow_list_captures') }}
    where is_complete
        {%- if as_of_schema() %}
        and captured_at <= {{ as_of() }}
        {%- endif %}
    group by direction

),

final as (

    select
        latest.person_id,
        latest.username,
        latest.platform,
        latest.direction,
        latest.action = 'follow' as is_active,
        runs.since,
        case when latest.action = 'unfollow' then latest.changed_at end as unfollowed_at,
        latest.changed_at as last_changed_at,
        latest.source as last_change_source,
        checked.checked_at,
        runs.changes,
        runs.landed_at
    from latest
    inner join runs
        on runs.direction = latest.direction
        and runs.person_id = latest.person_id
    left join checked
        on checked.direction = latest.direction

)

select * from final
