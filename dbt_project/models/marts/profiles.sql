{#-
    The profile enrichment cache (the original `profiles` table, as
    design.md names it): one row per person with the latest known non-empty
    value of every profile field (profile_fields()) from any source, with
    F_source and F_observed_at, whatever the source's rank or window: the
    newest observation wins. It answers "what did we last see", where
    person_current_state answers "what is true now, by the rules".

    Not an input of the merge: person_current_state and this table both read
    int_field_observations, so there is no cycle. design.md's "profiles (any
    age)" rank of the profile fields is what the merge's `latest` fallback
    already gives (the newest value of any listed source, at any age).

    Only observations at or before the build time as_of() count. Rebuilt as a
    table each run from int_field_observations (one row per person, field and
    source), so its cost does not grow with history.

    Tagged every_5_minutes: the every-minute cycle rebuilds it with the
    Affiliate crawl, not after every landing (mhc_pipeline/dbt.py).
-#}
{{
    config(
        materialized='table',
        tags=['every_5_minutes', 'as_of'],
        indexes=[
            {'columns': ['person_id'], 'unique': True},
        ],
    )
}}
{%- set fields = profile_fields() %}

with

persons as (

    select * from {{ ref('persons') }}
    {%- if as_of_schema() %}
    where first_seen_at <= {{ as_of() }}  -- an as-of build: the persons known at its time
    {%- endif %}

),

observations as (

    select * from {{ ref('int_field_observations') }}
    where field in (
        {%- for field in fields %}
        '{{ field.name }}'{% if not loop.last %},{% endif %}
        {%- endfor %}
    )

),

build as (

    select {{ as_of() }} as as_of

),

latest as (

    -- the newest non-empty value of each (person, field), from any source:
    -- no ranks, no windows (ties: the later landing, then the source name)
    select distinct on (observations.person_id, observations.field)
        observations.person_id,
        observations.field,
        observations.source,
        observations.value,
        observations.observed_at
    from observations
    cross join build
    where observations.observed_at <= build.as_of
        and not {{ jsonb_is_empty('observations.value') }}
    order by
        observations.person_id,
        observations.field,
        observations.observed_at desc,
        observations.landed_at desc,
        observations.source

),

pivoted as (

    {{ pivot_fields('latest', fields) }}

),

final as (

    select
        -- identity
        persons.id as person_id,
        persons.username,
        persons.platform,

        -- profile fields, each with its provenance
        {%- for field in fields %}
        {{ jsonb_to_type('pivoted.' ~ field.name ~ '__value', field.data_type) }} as {{ field.name }},
        pivoted.{{ field.name }}__source::text as {{ field.name }}_source,
        pivoted.{{ field.name }}__observed_at as {{ field.name }}_observed_at,
        {%- endfor %}

        -- build time
        build.as_of as profile_as_of

    from persons
    left join pivoted
        on pivoted.person_id = persons.id
    cross join build

)

select * from final
