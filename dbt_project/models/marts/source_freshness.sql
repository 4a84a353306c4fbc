{#-
    How fresh each source is, one row per monitored source
    (monitored_sources()): the newest observation in its history table, the
    newest fetch and landing of its raw table, the `dbt source freshness`
    status at the build time as_of() (the thresholds are read from the source
    declarations), and the batches, rows and quarantined rows landed in the
    last hour and the last day.

    Every figure is an index look-up: the newest observation through the
    history table's time index, the newest landing through the raw table's
    landed_at index, and the counts from the loader's raw.batches (one row
    per batch, with its rows and quarantined counts) through its
    (raw_table, fetched_at) index (a batch's fetched_at is never after its
    landed_at; a day of slack covers long fetches). It reads the raw tables
    directly (not their staging views) because only the raw tables' indexes
    answer these questions cheaply.

    Tagged every_5_minutes: the every-minute cycle rebuilds it with the
    Affiliate crawl, not after every landing (mhc_pipeline/dbt.py).
-#}
{{ config(materialized='table', tags=['every_5_minutes']) }}
{%- set sources = monitored_sources() %}

with

build as (

    select {{ as_of() }} as as_of

),

newest as (

    {%- for s in sources %}
    select
        '{{ s.source }}'::text as source,
        '{{ s.raw_table }}'::text as raw_table,
        '{{ s.history_model }}'::text as history_model,
        -- each newest value: one backward index scan (order by ... desc limit 1)
        (
            select history.{{ s.time_column }}
            from {{ ref(s.history_model) }} as history
            where history.{{ s.time_column }} <= build.as_of
            order by history.{{ s.time_column }} desc
            limit 1
        ) as newest_observed_at,
        (
            select batches.fetched_at
            from {{ source('raw', 'batches') }} as batches
            where batches.raw_table = '{{ s.raw_table }}'
                and batches.fetched_at <= build.as_of
                and batches.landed_at <= build.as_of
                and batches.rows > 0
            order by batches.raw_table desc, batches.fetched_at desc
            limit 1
        ) as newest_fetched_at,
        (
            select landed.landed_at
            from {{ source('raw', s.raw_table) }} as landed
            where landed.landed_at <= build.as_of
            order by landed.landed_at desc
            limit 1
        ) as newest_landed_at,
        {{ source_freshness_minutes(s.raw_table, 'warn_after') }} as warn_after_minutes,
        {{ source_freshness_minutes(s.raw_table, 'error_after') }} as error_after_minutes
    from build
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

recent_batches as (

    -- the batches landed in the day before the build time
    {%- for s in sources %}
    select
        '{{ s.source }}'::text as source,
        batches.landed_at,
        batches.rows,
        batches.quarantined
    from {{ source('raw', 'batches') }} as batches
    cross join build
    where batches.raw_table = '{{ s.raw_table }}'
        and batches.fetched_at > build.as_of - interval '2 days'
        and batches.fetched_at <= build.as_of
        and batches.landed_at > build.as_of - interval '1 day'
        and batches.landed_at <= build.as_of
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

landed as (

    select
        recent_batches.source,
        count(*) filter (where recent_batches.landed_at > build.as_of - interval '1 hour') as batches_last_hour,
        sum(recent_batches.rows) filter (where recent_batches.landed_at > build.as_of - interval '1 hour') as rows_landed_last_hour,
        sum(recent_batches.quarantined) filter (
            where recent_batches.landed_at > build.as_of - interval '1 hour'
        ) as rows_quarantined_last_hour,
        count(*) as batches_last_day,
        sum(recent_batches.rows) as rows_landed_last_day,
        sum(recent_batches.quarantined) as rows_quarantined_last_day
    from recent_batches
    cross join build
    group by recent_batches.source

),

final as (

    select
        -- the source
        newest.source,
        newest.raw_table,
        newest.history_model,

        -- freshness
        newest.newest_observed_at,
        newest.newest_fetched_at,
        newest.newest_landed_at,
        round((extract(epoch from build.as_of - newest.newest_fetched_at) / 60)::numeric, 1) as minutes_since_fetch,
        newest.warn_after_minutes,
        newest.error_after_minutes,
        case
            when newest.newest_fetched_at is null then 'error'
            when build.as_of - newest.newest_fetched_at > make_interval(mins => newest.error_after_minutes) then 'error'
            when build.as_of - newest.newest_fetched_at > make_interval(mins => newest.warn_after_minutes) then 'warn'
            else 'pass'
        end as freshness_status,

        -- volume
        coalesce(landed.batches_last_hour, 0)::integer as batches_last_hour,
        coalesce(landed.rows_landed_last_hour, 0)::bigint as rows_landed_last_hour,
        coalesce(landed.rows_quarantined_last_hour, 0)::bigint as rows_quarantined_last_hour,
        coalesce(landed.batches_last_day, 0)::integer as batches_last_day,
        coalesce(landed.rows_landed_last_day, 0)::bigint as rows_landed_last_day,
        coalesce(landed.rows_quarantined_last_day, 0)::bigint as rows_quarantined_last_day,

        -- build time
        build.as_of as freshness_as_of

    from newest
    left join landed
        on landed.source = newest.source
    cross join build

)

select * from final
