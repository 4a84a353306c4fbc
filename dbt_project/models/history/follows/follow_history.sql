{#-
    Every change of the owner's follow relations: one row per (person,
    direction, change), action 'follow' or 'unfollow', with its source:
    'list' (a complete list fetched live), 'import' (a complete list from
    mhc import-follows) or 'events' (the Events API follow / unfollow
    methods of the owner's room, from interactions; direction follower).

    Observations per (direction, person), in time order:
      - listed in a complete capture: following (true);
      - not listed in a complete capture, when listed in the previous
        complete capture of the direction, or when an event of the person
        came after that previous capture: not following (false). Only
        complete captures count: an incomplete list (a failed page, a login
        or Cloudflare page, a rejected entry, names that do not add up to
        the reported total) changes nothing, never an unfollow;
      - a follow / unfollow event at its time (true / false);
      - a legacy record (stg_legacy__follow_history: the legacy follow_history
        rows, and the legacy profiles' follow flags that were true) at its
        time, source 'legacy'.
    A change is an observation whose state differs from the one before it
    (the first observation of a person is a change when it is a follow, or an
    explicit unfollow event).

    Incremental, rewritten per (direction, person): a run recomputes the
    whole history of the pairs its new data can change, and only those:
    for a newly landed complete capture, the people listed in it but not in
    the previous or next complete capture of the direction (or the other way
    round), plus the people with follow events between those captures; for a
    newly landed event, its person. Captures or events that land late (an
    old saved page imported today) are placed at their own time. So
    --full-refresh (every pair recomputed) gives the same rows, and a run's
    cost follows the people whose state can change, not the length of
    history.
-#}
{{
    config(
        materialized='incremental',
        unique_key=['direction', 'person_id'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['person_id', 'direction', 'changed_at', 'action'], 'unique': True},
            {'columns': ['direction', 'changed_at']},
            {'columns': ['landed_at']},
        ],
    )
}}
{%- set follow_events -%}
    select
        'follower'::text as direction,
        interactions.person_id,
        interactions.username,
        interactions.occurred_at,
        interactions.type = 'FOLLOW' as is_following,
        interactions.id as event_id,
        interactions.landed_at,
        -- a follow event imported from the legacy database (interactions.origin) is a legacy record
        case when interactions.origin = 'legacy' then 'legacy' else 'events' end as source
    from {{ ref('interactions') }} as interactions
    where interactions.type in ('FOLLOW', 'UNFOLLOW')
        and interactions.person_id is not null
        and interactions.broadcaster is not null
        and interactions.username is distinct from interactions.broadcaster
    union all
    -- the legacy MHC Control Panel's follow history and follow flags
    select
        legacy.direction,
        legacy.person_id,
        legacy.username,
        legacy.occurred_at,
        legacy.is_following,
        legacy.event_id,
        legacy.landed_at,
        'legacy'::text as source
    from {{ ref('stg_legacy__follow_history') }} as legacy
{%- endset %}

with

captures as (

    -- every complete capture, numbered per direction (small: one row per list)
    select
        batch_id,
        direction,
        source,
        captured_at,
        landed_at,
        row_number() over (partition by direction order by captured_at, batch_id) as capture_no
    from {{ ref('follow_list_captures') }}
    where is_complete

),

{% if is_incremental() %}
new_captures as (

    select
        new_capture.batch_id,
        new_capture.direction,
        previous_capture.batch_id as previous_batch_id,
        previous_capture.captured_at as previous_captured_at,
        next_capture.batch_id as next_batch_id,
        next_capture.captured_at as next_captured_at
    from captures as new_capture
    left join captures as previous_capture
        on previous_capture.direction = new_capture.direction
        and previous_capture.capture_no = new_capture.capture_no - 1
    left join captures as next_capture
        on next_capture.direction = new_capture.direction
        and next_capture.capture_no = new_capture.capture_no + 1
    where new_capture.landed_at > {{ landed_at_watermark() }}

),

neighbourhood as (

    -- who is listed in a new capture and in its neighbours
    select
        new_captures.direction,
        entries.person_id,
        coalesce(bool_or(entries.batch_id = new_captures.previous_batch_id), false) as in_previous,
        coalesce(bool_or(entries.batch_id = new_captures.batch_id), false) as in_new,
        coalesce(bool_or(entries.batch_id = new_captures.next_batch_id), false) as in_next,
        new_captures.next_batch_id is not null as has_next
    from new_captures
    inner join {{ ref('follow_list_entries') }} as entries
        on entries.batch_id in (new_captures.batch_id, new_captures.previous_batch_id, new_captures.next_batch_id)
    group by new_captures.batch_id, new_captures.direction, entries.person_id, new_captures.next_batch_id

),

affected as (

    select direction, person_id
    from neighbourhood
    where in_new <> in_previous
        or (has_next and in_new <> in_next)

    union

    -- events between a new capture's neighbours can turn its listing into a change
    select follow_events.direction, follow_events.person_id
    from ({{ follow_events }}) as follow_events
    inner join new_captures
        on new_captures.direction = follow_events.direction
        and follow_events.occurred_at > coalesce(new_captures.previous_captured_at, '-infinity'::timestamptz)
        and follow_events.occurred_at < coalesce(new_captures.next_captured_at, 'infinity'::timestamptz)

    union

    -- new events
    select follow_events.direction, follow_events.person_id
    from ({{ follow_events }}) as follow_events
    where follow_events.landed_at > {{ landed_at_watermark() }}

),
{% else %}
affected as (

    select direction, person_id from {{ ref('follow_list_entries') }}
    union
    select follow_events.direction, follow_events.person_id from ({{ follow_events }}) as follow_events

),
{% endif %}

pair_entries as (

    select
        entries.direction,
        entries.person_id,
        entries.username,
        captures.batch_id,
        captures.captured_at,
        captures.capture_no,
        captures.source,
        captures.landed_at
    from {{ ref('follow_list_entries') }} as entries
    inner join affected
        on affected.direction = entries.direction
        and affected.person_id = entries.person_id
    inner join captures
        on captures.batch_id = entries.batch_id

),

pair_events as (

    select follow_events.*
    from ({{ follow_events }}) as follow_events
    inner join affected
        on affected.direction = follow_events.direction
        and affected.person_id = follow_events.person_id

),

observations as (

    -- listed: following
    select
        direction, person_id, username, captured_at as observed_at, true as is_following,
        source, batch_id::text as evidence, 1 as kind, landed_at
    from pair_entries

    union

    -- not listed in the capture after one that listed the person: not following
    select
        pair_entries.direction, pair_entries.person_id, pair_entries.username, next_capture.captured_at,
        false as is_following, next_capture.source, next_capture.batch_id::text as evidence, 1 as kind,
        next_capture.landed_at
    from pair_entries
    inner join captures as next_capture
        on next_capture.direction = pair_entries.direction
        and next_capture.capture_no = pair_entries.capture_no + 1
    where not exists (
        select 1 from pair_entries as listed
        where listed.direction = pair_entries.direction
            and listed.person_id = pair_entries.person_id
            and listed.capture_no = pair_entries.capture_no + 1
    )

    union

    -- the events (and the legacy records)
    select
        direction, person_id, username, occurred_at, is_following,
        source, event_id, 0 as kind, landed_at
    from pair_events

    union

    -- not listed in the first capture after an event: not following
    select
        pair_events.direction, pair_events.person_id, pair_events.username, next_capture.captured_at,
        false as is_following, next_capture.source, next_capture.batch_id::text as evidence, 1 as kind,
        next_capture.landed_at
    from pair_events
    cross join lateral (
        select captures.*
        from captures
        where captures.direction = pair_events.direction
            and captures.captured_at > pair_events.occurred_at
        order by captures.captured_at, captures.batch_id
        limit 1
    ) as next_capture
    where not exists (
        select 1 from pair_entries as listed
        where listed.direction = pair_events.direction
            and listed.person_id = pair_events.person_id
            and listed.batch_id = next_capture.batch_id
    )

),

sequenced as (

    select
        observations.*,
        lag(is_following) over (
            partition by direction, person_id
            order by observed_at, kind, evidence
        ) as previous_state
    from observations

),

changes as (

    select
        sequenced.*,
        row_number() over (
            partition by direction, person_id
            order by observed_at, kind, evidence
        ) as change_no
    from sequenced
    where (previous_state is null and (is_following or source in ('events', 'legacy')))
        or previous_state <> is_following

),

final as (

    select
        person_id,
        username,
        'chaturbate'::text as platform,
        direction,
        case when is_following then 'follow' else 'unfollow' end as action,
        observed_at as changed_at,
        source,
        evidence,
        change_no::integer as change_no,
        landed_at,
        case when source = 'legacy' then 'legacy' else 'live' end as origin
    from changes

)

select * from final
