{#-
    What each source contributes, one row per monitored source
    (monitored_sources()): how many persons it has reported on (ever, and in
    the day before the build time as_of()), and how many of the values
    person_current_state shows it won: the number of (person, merged field)
    whose F_source is the source's merge source, out of every merged value
    that has a source (is_online's default false, with no source, is not
    counted), as a count, a share and per field. The merged fields come from
    merged_fields(), so a new field is counted without a change here.
    cbhours_live and cbhours_activity share the merge source 'cbhours' (the
    merge does not tell them apart), so their winning figures are the same;
    events gives no merged field.

    Persons covered come from int_source_persons (first and last observation
    per source and person, kept incrementally), so the cost follows the
    number of persons, not the length of history. The last-day figure counts
    persons whose newest observation is in the day before the build time:
    exact for a build at the present, an undercount for a replay pinned in
    the past (a person seen since then has a newer last observation).

    Tagged every_5_minutes: the every-minute cycle rebuilds it with the
    Affiliate crawl, not after every landing (mhc_pipeline/dbt.py).
-#}
{{ config(materialized='table', tags=['every_5_minutes']) }}
{%- set sources = monitored_sources() %}
{%- set fields = merged_fields() %}

with

build as (

    select {{ as_of() }} as as_of

),

current_state as (

    select * from {{ ref('person_current_state') }}

),

source_persons as (

    select * from {{ ref('int_source_persons') }}

),

covered as (

    select
        source_persons.source,
        count(*) filter (where source_persons.first_observed_at <= build.as_of) as persons_covered,
        count(*) filter (
            where source_persons.last_observed_at > build.as_of - interval '1 day'
                and source_persons.last_observed_at <= build.as_of
        ) as persons_covered_last_day
    from source_persons
    cross join build
    group by source_persons.source

),

coverage as (

    {%- for s in sources %}
    select
        '{{ s.source }}'::text as source,
        {% if s.merge_source %}'{{ s.merge_source }}'{% else %}null{% endif %}::text as merge_source
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

winning as (

    -- one row per (person, merged field) with a value from a source
    select
        field.field,
        field.source
    from current_state
    cross join lateral (
        values
            {%- for field in fields %}
            ('{{ field.name }}', current_state.{{ field.name }}_source){% if not loop.last %},{% endif %}
            {%- endfor %}
    ) as field (field, source)
    where field.source is not null

),

per_field as (

    select
        source,
        field,
        count(*) as winning_values
    from winning
    group by source, field

),

per_source as (

    select
        source,
        sum(winning_values)::bigint as winning_values,
        jsonb_object_agg(field, winning_values) as winning_values_by_field
    from per_field
    group by source

),

totals as (

    select count(*)::bigint as merged_values from winning

),

final as (

    select
        -- the source
        coverage.source,
        coverage.merge_source,

        -- persons
        coalesce(covered.persons_covered, 0)::bigint as persons_covered,
        coalesce(covered.persons_covered_last_day, 0)::bigint as persons_covered_last_day,

        -- its share of the merged values
        coalesce(per_source.winning_values, 0)::bigint as winning_values,
        totals.merged_values,
        case when totals.merged_values > 0 then
            round(coalesce(per_source.winning_values, 0)::numeric / totals.merged_values, 4)
        end as winning_share,
        coalesce(per_source.winning_values_by_field, '{}'::jsonb) as winning_values_by_field,

        -- build time
        build.as_of as coverage_as_of

    from coverage
    left join covered
        on covered.source = coverage.source
    left join per_source
        on per_source.source = coverage.merge_source
    cross join totals
    cross join build

)

select * from final
