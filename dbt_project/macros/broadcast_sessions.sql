{#-
    Broadcast sessions: how the history of each source is cut into sessions.
    Read by broadcast_sessions (the closed sessions, written once) and
    v_broadcast_sessions_open (the ones not written yet). See README.md,
    "Broadcast sessions".
-#}

{#-
    The rules of a broadcast_sessions source: the `broadcast_sessions` entry
    of a monitored table in the source map (var `sources`, listed by
    broadcast_session_sources()). `model` yields
    (person_id, source, observed_at, start_estimate, viewers, followers,
    show_type, landed_at). A person's next observation starts a new session
    when:
      - start_tolerance_minutes (if set): the broadcast's estimated start
        (start_estimate) moved by more than this from the previous
        observation's (Affiliate: observed_at - seconds_online, +-10 min);
      - gap_minutes: more than this passed since the previous observation,
        and, with gap_needs_coverage, the source looked in between (an
        observation of anyone in the source after previous + gap_minutes)
        without seeing the person. Affiliate crawls list every online room,
        so a gap with no crawl at all (the pipeline was down) does not split
        a broadcast; CBHours activity has a segment every 3 minutes of a
        broadcast, so a gap of more than 6 minutes always splits.
    gap_minutes is also the window of is_open (last observation within it
    of the build time).

    A session is closed (written) once its last observation is older than
    gap_minutes + var broadcast_session_settle_minutes before both the build
    time and the source's newest observation, and, with coverage_model, once
    the source has also been fetched for the person past the end of the
    session plus the gap (plus publish_lag_minutes) and before its start
    minus the gap: a CBHours activity fetch only returns the segments of the
    days asked, and today's partition is only refreshed while a model is
    online, so the last segments of a broadcast may come with a later fetch.
    A session still not covered var broadcast_session_max_wait_hours after
    it would otherwise close is closed anyway.
-#}

{#-
    SQL: true when `coverage` (a coverage model: person_id, day_start,
    day_end, covered_until) shows that the person's data around `point` was
    fetched up to `until` (or to the end of point's day, if that comes first).
-#}
{% macro broadcast_session_covered(coverage, person_id, point, until) -%}
    exists (
        select 1
        from {{ coverage }} as covered
        where covered.person_id = {{ person_id }}
            and covered.day_start <= {{ point }}
            and covered.day_end > {{ point }}
            and covered.covered_until >= least({{ until }}, covered.day_end)
    )
{%- endmacro %}

{#-
    Deterministic session id: the MD5 of "<person_id>|<source>|<first
    observation, ISO UTC with microseconds>" as a uuid, i.e. in Python
    uuid.UUID(hashlib.md5(f"{person_id}|{source}|{first:%Y-%m-%dT%H:%M:%S.%fZ}".encode()).hexdigest()).
    The first observation (not the estimated start) identifies it: it is
    unique per (person, source), the estimate is not.
-#}
{% macro broadcast_session_id(person_id, source, first_observed_at) -%}
    md5(({{ person_id }})::text || '|' || ({{ source }}) || '|' || {{ utc_iso_text(first_observed_at) }})::uuid
{%- endmacro %}

{#-
    The CTEs (no leading `with`) that cut history into sessions, ending in
    `unwritten`: one row per session not written yet, with every column of
    broadcast_sessions plus is_closed (the session can be written).

    written: the relation of the sessions already written (this, or
        ref('broadcast_sessions')); none = nothing written yet (first build
        or --full-refresh): every observation is read.
    landed_after: a SQL timestamptz; with `written`, the pairs (person,
        source) with observations landed after it are recomputed too (new
        rows, backfills of old days included).

    With `written`, only some (person, source) pairs are recomputed: those
    with rows landed after `landed_after`, and those with rows observed after
    the newest written session of their source (that covers every session
    not written yet). Each pair is read from the end of its last written
    session before its first touched row, that session's last row included:
    a late row next to a written session then joins it and, as the session
    overlaps a written one, nothing is written for it (written sessions are
    never changed). The cost is the rows of the sessions not written yet plus
    the new rows, not the length of history.
-#}
{% macro broadcast_session_ctes(written=none, landed_after=none) %}
{%- set sources = broadcast_session_sources() %}
{%- set settle = var('broadcast_session_settle_minutes', 30) | int %}
{%- set max_wait = var('broadcast_session_max_wait_hours', 24) | int %}
build as (

    select {{ as_of() }} as as_of

),

observations as not materialized (

    -- every source's observations up to the build time, in one shape (inlined
    -- wherever it is read, so that each filter reaches the history indexes)
    {%- for s in sources %}
    select
        person_id,
        source::text as source,
        observed_at,
        start_estimate,
        viewers,
        followers,
        show_type::text as show_type,
        landed_at
    from {{ ref(s.model) }}
    where observed_at <= {{ as_of() }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

closing as (

    -- per source: a session whose last observation is older than
    -- closes_before is closed. It is measured from the source's newest
    -- observation as well as from the build time, so a source that stopped
    -- delivering (an outage) closes nothing.
    {%- for s in sources %}
    select
        '{{ s.source }}'::text as source,
        {{ s.gap_minutes }} as gap_minutes,
        least(
            {{ as_of() }},
            (
                -- one backward scan of the source's time index
                select newest.observed_at
                from {{ ref(s.model) }} as newest
                where newest.observed_at <= {{ as_of() }}
                order by newest.observed_at desc
                limit 1
            )
        ) - make_interval(mins => {{ s.gap_minutes + settle }}) as closes_before
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

{%- if written is none %}

window_rows as (

    select * from observations

),
{%- else %}

touched as (

    -- the (person, source) pairs to recompute, and their first touched row
    select
        candidates.person_id,
        candidates.source,
        min(candidates.observed_at) as touched_from
    from (
        {%- if landed_after is not none %}
        -- rows landed since the last build (new data, backfills included)
        select person_id, source, observed_at
        from observations
        where landed_at > {{ landed_after }}
        union all
        {%- endif %}
        {%- for s in sources %}
        -- rows observed after the newest written session of the source
        -- (less the longest wait for coverage): every session not written yet
        select person_id, source, observed_at
        from observations
        where source = '{{ s.source }}'
            and observed_at > (
                select coalesce(max(written.ended_at), '-infinity'::timestamptz)
                    {%- if s.coverage_model %} - make_interval(hours => {{ max_wait }}){% endif %}
                from {{ written }} as written
                where written.source = '{{ s.source }}'
            )
        {%- if not loop.last %}
        union all
        {%- endif %}
        {%- endfor %}
    ) as candidates
    group by candidates.person_id, candidates.source

),

windows as materialized (

    -- each pair is read from the end of its last written session before the
    -- first touched row (that row included); computed once per pair
    select
        touched.person_id,
        touched.source,
        coalesce(
            (
                select written.ended_at
                from {{ written }} as written
                where written.person_id = touched.person_id
                    and written.source = touched.source
                    and written.ended_at < touched.touched_from
                order by written.ended_at desc
                limit 1
            ),
            '-infinity'::timestamptz
        ) as window_from
    from touched

),

window_rows as (

    -- one (person_id, observed_at) index range per pair
    select pair_rows.*
    from windows
    cross join lateral (
        {%- for s in sources %}
        select
            history.person_id,
            history.source::text as source,
            history.observed_at,
            history.start_estimate,
            history.viewers,
            history.followers,
            history.show_type::text as show_type,
            history.landed_at
        from {{ ref(s.model) }} as history
        where windows.source = '{{ s.source }}'
            and history.person_id = windows.person_id
            and history.observed_at >= windows.window_from
            and history.observed_at <= {{ as_of() }}
        {%- if not loop.last %}
        union all
        {%- endif %}
        {%- endfor %}
    ) as pair_rows

),
{%- endif %}

sequenced as (

    select
        window_rows.*,
        lag(window_rows.observed_at) over by_time as previous_observed_at,
        lag(window_rows.start_estimate) over by_time as previous_start_estimate
    from window_rows
    window by_time as (partition by window_rows.person_id, window_rows.source order by window_rows.observed_at)

),

flagged as (

    -- does the row start a new session? (rules: broadcast_session_sources())
    select
        sequenced.*,
        case
            when sequenced.previous_observed_at is null then true
            {%- for s in sources %}
            when sequenced.source = '{{ s.source }}' then coalesce(
                {%- if s.start_tolerance_minutes is not none %}
                -- the broadcast's estimated start moved: another broadcast
                abs(extract(epoch from sequenced.start_estimate - sequenced.previous_start_estimate))
                    > {{ s.start_tolerance_minutes * 60 }}
                or
                {%- endif %}
                (
                    -- a gap ...
                    sequenced.observed_at - sequenced.previous_observed_at > make_interval(mins => {{ s.gap_minutes }})
                    {%- if s.gap_needs_coverage %}
                    -- ... in which the source looked and did not see the person
                    and exists (
                        select 1
                        from {{ ref(s.model) }} as looked
                        where looked.observed_at > sequenced.previous_observed_at + make_interval(mins => {{ s.gap_minutes }})
                            and looked.observed_at < sequenced.observed_at
                    )
                    {%- endif %}
                ),
                false
            )
            {%- endfor %}
            else false
        end as starts_session
    from sequenced

),

grouped as (

    select
        flagged.*,
        count(*) filter (where flagged.starts_session) over (
            partition by flagged.person_id, flagged.source
            order by flagged.observed_at
            rows between unbounded preceding and current row
        ) as session_no
    from flagged

),

sessions as (

    select
        grouped.person_id,
        grouped.source,
        min(grouped.observed_at) as first_observed_at,
        max(grouped.observed_at) as ended_at,
        -- the earliest estimate of the broadcast's start, else the first observation
        least(min(grouped.observed_at), min(grouped.start_estimate)) as started_at,
        max(grouped.viewers) as peak_viewers,
        round(avg(grouped.viewers), 2) as avg_viewers,
        (array_agg(grouped.followers order by grouped.observed_at)
            filter (where grouped.followers is not null))[1] as followers_at_start,
        (array_agg(grouped.followers order by grouped.observed_at desc)
            filter (where grouped.followers is not null))[1] as followers_at_end,
        coalesce(
            array_agg(distinct grouped.show_type order by grouped.show_type)
                filter (where grouped.show_type is not null),
            array[]::text[]
        ) as show_types,
        count(*)::integer as observations,
        max(grouped.landed_at) as landed_at
    from grouped
    group by grouped.person_id, grouped.source, grouped.session_no

),

rolled as (

    select
        {{ broadcast_session_id('sessions.person_id', 'sessions.source', 'sessions.first_observed_at') }} as session_id,
        sessions.person_id,
        sessions.source,
        sessions.started_at,
        sessions.ended_at,
        sessions.ended_at - sessions.started_at as duration,
        round(extract(epoch from sessions.ended_at - sessions.started_at) / 60)::integer as duration_minutes,
        sessions.peak_viewers,
        sessions.avg_viewers,
        sessions.followers_at_start,
        sessions.followers_at_end,
        sessions.followers_at_end - sessions.followers_at_start as followers_gained,
        sessions.show_types,
        sessions.observations,
        sessions.ended_at >= build.as_of - make_interval(mins => closing.gap_minutes) as is_open,
        sessions.ended_at < closing.closes_before
            and case sessions.source
                {%- for s in sources if s.coverage_model %}
                when '{{ s.source }}' then (
                    -- fetched past the end (and before the start) of the session ...
                    (
                        {{ broadcast_session_covered(ref(s.coverage_model), 'sessions.person_id', 'sessions.ended_at',
                            'sessions.ended_at + make_interval(mins => ' ~ (s.gap_minutes + s.publish_lag_minutes) ~ ')') }}
                        and {{ broadcast_session_covered(ref(s.coverage_model), 'sessions.person_id',
                            'sessions.ended_at + make_interval(mins => ' ~ s.gap_minutes ~ ')',
                            'sessions.ended_at + make_interval(mins => ' ~ (s.gap_minutes + s.publish_lag_minutes) ~ ')') }}
                        and {{ broadcast_session_covered(ref(s.coverage_model), 'sessions.person_id',
                            'sessions.first_observed_at - make_interval(mins => ' ~ s.gap_minutes ~ ')',
                            'sessions.first_observed_at') }}
                    )
                    -- ... or waited long enough
                    or sessions.ended_at < closing.closes_before - make_interval(hours => {{ max_wait }})
                )
                {%- endfor %}
                else true
            end as is_closed,
        sessions.first_observed_at,
        sessions.landed_at
    from sessions
    inner join closing
        on closing.source = sessions.source
    cross join build

),

unwritten as (

    select rolled.*
    from rolled
    {%- if written is not none %}
    -- a session that overlaps a written one (that one, or late rows next to
    -- it) is never written again: written sessions do not change
    where not exists (
        select 1
        from {{ written }} as written
        where written.person_id = rolled.person_id
            and written.source = rolled.source
            and written.ended_at >= rolled.first_observed_at
            and written.first_observed_at <= rolled.ended_at
    )
    {%- endif %}

)
{%- endmacro %}

{#- The columns of broadcast_sessions and v_broadcast_sessions_open, in order (from `unwritten`). -#}
{% macro broadcast_session_columns() -%}
        -- key
        session_id,

        -- who, where from
        person_id,
        source,

        -- when
        started_at,
        ended_at,
        duration,
        duration_minutes,

        -- the broadcast
        peak_viewers,
        avg_viewers,
        followers_at_start,
        followers_at_end,
        followers_gained,
        show_types,
        observations,
        is_open,

        -- lineage
        first_observed_at,
        landed_at
{%- endmacro %}
