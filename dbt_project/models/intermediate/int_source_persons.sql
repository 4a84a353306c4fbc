{#-
    One row per (monitored source, person): when the source first and last
    observed the person (the time column of its history table), for
    source_coverage. Built generically from monitored_sources().
    Incremental like persons: each run reads only the history rows landed
    after the watermark (one landed_at index range per source), folds them
    into the rows already held for those keys (min / max, so --full-refresh
    gives the same rows) and rewrites only the keys that change.
-#}
{{
    config(
        materialized='incremental',
        unique_key=['source', 'person_id'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['source', 'person_id'], 'unique': True},
            {'columns': ['source', 'last_observed_at']},
            {'columns': ['landed_at']},
        ],
    )
}}
{%- set sources = monitored_sources() %}

with

new_rows as (

    {%- for s in sources %}
    select
        '{{ s.source }}'::text as source,
        history.person_id,
        min(history.{{ s.time_column }}) as first_observed_at,
        max(history.{{ s.time_column }}) as last_observed_at,
        max(history.landed_at) as landed_at
    from {{ ref(s.history_model) }} as history
    where history.person_id is not null
    {%- if s.get('observed_if') %}
        and history.{{ s.observed_if }}
    {%- endif %}
    {%- if is_incremental() %}
        and history.landed_at > {{ landed_at_watermark() }}
    {%- endif %}
    group by history.person_id
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

{% if is_incremental() %}
held as (

    select this.*
    from {{ this }} as this
    inner join new_rows
        on new_rows.source = this.source
        and new_rows.person_id = this.person_id

),

folded as (

    select
        source,
        person_id,
        min(first_observed_at) as first_observed_at,
        max(last_observed_at) as last_observed_at,
        max(landed_at) as landed_at
    from (
        select source, person_id, first_observed_at, last_observed_at, landed_at from new_rows
        union all
        select source, person_id, first_observed_at, last_observed_at, landed_at from held
    ) as candidates
    group by source, person_id

),

changed as (

    -- only keys whose row changes are rewritten (re-reads inside the
    -- lookback change nothing)
    select folded.*
    from folded
    left join held
        on held.source = folded.source
        and held.person_id = folded.person_id
    where held.person_id is null
        or (folded.first_observed_at, folded.last_observed_at, folded.landed_at)
            is distinct from (held.first_observed_at, held.last_observed_at, held.landed_at)

),
{% else %}
changed as (

    select * from new_rows

),
{% endif %}

final as (

    select
        source,
        person_id,
        first_observed_at,
        last_observed_at,
        landed_at
    from changed

)

select * from final
