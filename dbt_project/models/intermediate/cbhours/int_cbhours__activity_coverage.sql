{#-
    Which stretches of each model's CBHours activity have been fetched: one
    row per (person, day of a get_activity request), with the newest time up
    to which a successful answer covered that day (its fetched_at, or the
    day's end when it was fetched later). Every segment CBHours had published
    by then was in the answer, so a time before covered_until (minus
    CBHours' publishing delay) with no segment really had none.
    broadcast_sessions uses it to close a CBHours session only once the
    minutes after its last segment (and before its first) have been fetched:
    today's partition is only refreshed while a model is online, so the last
    segments of a broadcast often arrive with a later fetch of the same day.

    Days are the request's local dates (start_date .. end_date) turned into
    UTC with its tzo. Incremental (delete+insert on (person_id, day_start)):
    each run reads only the answers landed after the watermark and keeps the
    larger covered_until (a day is only rewritten when its coverage grows);
    --full-refresh gives the same rows.
-#}
{{
    config(
        materialized='incremental',
        unique_key=['person_id', 'day_start'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['person_id', 'day_start'], 'unique': True},
            {'columns': ['landed_at']},
        ],
    )
}}

with

answers as (

    select * from {{ ref('stg_cbhours__activity_answers') }}
    where reject_reason is null
        and is_success
        and start_date is not null
        and end_date is not null
        and end_date >= start_date
    {% if is_incremental() %}
        and landed_at > {{ landed_at_watermark() }}
    {% endif %}

),

days as (

    select
        answers.person_id,
        (day.day - make_interval(mins => answers.tzo)) at time zone 'UTC' as day_start,
        (day.day + interval '1 day' - make_interval(mins => answers.tzo)) at time zone 'UTC' as day_end,
        answers.fetched_at,
        answers.landed_at
    from answers
    cross join lateral generate_series(
        answers.start_date::timestamp, answers.end_date::timestamp, interval '1 day'
    ) as day (day)

),

new_coverage as (

    -- landed_at: the first landing of the answer that covered the most
    -- (so that a later answer that adds nothing changes nothing)
    select
        person_id,
        day_start,
        max(day_end) as day_end,
        max(least(fetched_at, day_end)) as covered_until,
        (array_agg(landed_at order by least(fetched_at, day_end) desc, landed_at))[1] as landed_at
    from days
    group by person_id, day_start

),

{% if is_incremental() %}
held as (

    select
        this.person_id,
        this.day_start,
        this.day_end,
        this.covered_until,
        this.landed_at
    from {{ this }} as this
    inner join new_coverage
        on new_coverage.person_id = this.person_id
        and new_coverage.day_start = this.day_start

),

folded as (

    select
        person_id,
        day_start,
        max(day_end) as day_end,
        max(covered_until) as covered_until,
        (array_agg(landed_at order by covered_until desc, landed_at))[1] as landed_at
    from (
        select * from new_coverage
        union all
        select * from held
    ) as candidates
    group by person_id, day_start

),

changed as (

    -- only days whose coverage grows are rewritten
    select folded.*
    from folded
    left join held
        on held.person_id = folded.person_id
        and held.day_start = folded.day_start
    where held.person_id is null
        or folded.covered_until > held.covered_until

),
{% else %}
changed as (

    select * from new_coverage

),
{% endif %}

final as (

    select
        person_id,
        day_start,
        day_end,
        covered_until,
        landed_at
    from changed

)

select * from final
