{#-
    One row per person with the best-known value of every merged field, and
    where it came from: for each field F (merged_fields()), F, F_source and
    F_observed_at.

    The rule, driven entirely by the merge_rules seed:
      1. Candidates are the latest non-empty value per (person, field, source)
         (int_field_observations) of the sources listed for the field,
         observed at or before the build time as_of().
      2. A candidate is fresh when as_of() - observed_at <= the source's
         max_age_minutes (no max age = always fresh).
      3. The fresh candidate of the best (lowest) rank wins.
      4. If none is fresh: fallback `latest` takes the most recently observed
         candidate of any listed source; fallback `none` gives null (live
         fields: is_online is then false, see merged_fields() if_unknown).
      5. The live block (fields marked live_block: current_show,
         room_subject, viewers) comes whole from the row that decided
         is_online: the same source, the same observed_at. A field that row
         left empty is null (a subject just cleared is shown cleared, never
         an older one, and never one source's subject beside another's
         show), and all three are null whenever is_online is false.
    Its cost depends on the number of persons, fields and sources, never on
    the length of history.

    Incremental (delete+insert on id): a live build recomputes only the
    persons whose row can have changed since the last build (new inputs,
    windows crossed, observations that became candidates: macros/
    merge_scope.sql), so the CBHours minute recomputes its ~300 persons, not
    all of them. A full refresh, an as-of build and the first build after
    the merge's code, fields or rules changed recompute everyone, with the
    same SQL. The rows are replaced in one transaction inside the table that
    v_person_current_state reads, so the product view never disappears (a
    `table` build drops the old table with CASCADE, which drops the view
    until it is re-created later in the build). The state's time is the
    build's, one row in person_current_state_build (written by the post-hook
    in the same transaction), not a column here: a person nobody touched
    keeps its row, and that row holds as of every later build. Indexed on
    username: one person is an index probe.
-#}
{{
    config(
        materialized='incremental',
        unique_key='id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        tags=['as_of'],
        post_hook=["{{ record_merge_build() }}"],
        indexes=[
            {'columns': ['id'], 'unique': True},
            {'columns': ['username']},
        ],
    )
}}
{%- set fields = merged_fields() %}
{#- the live block (comes whole from the row that decided is_online) and the merged is_online -#}
{%- set live_block = fields | selectattr('live_block') | map(attribute='name') | list %}
{%- set is_online = 'coalesce(' ~ jsonb_to_type('pivoted.is_online__value', 'boolean') ~ ', false)' %}
{#- the last build's time when only the affected persons are recomputed; none: everyone -#}
{%- set previous = merge_previous_as_of() %}

with

follow_state as (

    -- the owner's follow relations (follows), one row per person: the owner
    -- follows the person (direction following), the person follows the owner (follower)
    select
        person_id,
        bool_or(is_active) filter (where direction = 'following') as owner_follows,
        max(since) filter (where direction = 'following' and is_active) as owner_follows_since,
        bool_or(is_active) filter (where direction = 'follower') as follows_owner,
        max(since) filter (where direction = 'follower' and is_active) as follows_owner_since,
        max(landed_at) as landed_at
    from {{ ref('follows') }}
    group by person_id

),
{% if previous %}
affected as (

    -- the persons whose row can differ from the one held (macros/merge_scope.sql)
    {{ merge_affected_persons(previous, 'follow_state') }}

),
{% endif %}
persons as (

    select * from {{ ref('persons') }}
    {%- if as_of_schema() %}
    where first_seen_at <= {{ as_of() }}  -- an as-of build: the persons known at its time
    {%- elif previous %}
    where id in (select affected.id from affected)
    {%- endif %}

),

observations as (

    select * from {{ ref('int_field_observations') }}
    {%- if previous %}
    where person_id in (select affected.id from affected)
    {%- endif %}

),

merge_rules as (

    select * from {{ ref('merge_rules') }}

),

build as (

    select {{ as_of() }} as as_of

),

field_fallbacks as (

    -- one fallback per field (the seed is tested to agree on every row)
    select
        field,
        bool_or(fallback = 'latest') as falls_back_to_latest
    from merge_rules
    group by field

),

candidates as (

    select
        observations.person_id,
        observations.field,
        observations.source,
        observations.value,
        observations.observed_at,
        merge_rules.rank,
        (
            merge_rules.max_age_minutes is null
            or observations.observed_at >= build.as_of - make_interval(mins => merge_rules.max_age_minutes)
        ) as is_fresh,
        field_fallbacks.falls_back_to_latest
    from observations
    inner join merge_rules
        on merge_rules.field = observations.field
        and merge_rules.source = observations.source
    inner join field_fallbacks
        on field_fallbacks.field = observations.field
    cross join build
    where observations.observed_at <= build.as_of
        and not {{ jsonb_is_empty('observations.value') }}

),

ranked as (

    select distinct on (person_id, field)
        person_id,
        field,
        source,
        value,
        observed_at
    from candidates
    where is_fresh or falls_back_to_latest
    order by
        person_id,
        field,
        is_fresh desc,                          -- fresh candidates first,
        case when is_fresh then rank end,       -- the best rank among them,
        observed_at desc,                       -- else the most recent,
        rank,
        source

),

live_block as (

    -- the live block: the values of the row that decided is_online (same
    -- source, same time). A field that row left empty has no candidate
    -- there (int_field_observations keeps non-empty values), so it is null
    select
        candidates.person_id,
        candidates.field,
        candidates.source,
        candidates.value,
        candidates.observed_at
    from candidates
    inner join ranked as deciding
        on deciding.person_id = candidates.person_id
        and deciding.field = 'is_online'
        and deciding.source = candidates.source
        and deciding.observed_at = candidates.observed_at
    where candidates.field in ('{{ live_block | join("', '") }}')

),

winners as (

    select * from ranked
    where field not in ('{{ live_block | join("', '") }}')
    union all
    select * from live_block

),

pivoted as (

    {{ pivot_fields('winners', fields) }}

),

source_updates as (

    select
        observations.person_id,
        {%- for update in source_update_columns() %}
        max(observations.observed_at) filter (where observations.source = '{{ update.source }}')
            as {{ update.column }},
        {%- endfor %}
        max(observations.landed_at) as landed_at
    from observations
    cross join build
    where observations.observed_at <= build.as_of
    group by observations.person_id

),

final as (

    select
        -- identity
        persons.id,
        persons.username,
        persons.platform,
        persons.role,

        -- merged fields, each with its provenance
        {%- for field in fields %}
        {%- set typed = jsonb_to_type('pivoted.' ~ field.name ~ '__value', field.data_type) %}
        {%- if field.if_unknown is not none %}
        coalesce({{ typed }}, {{ field.if_unknown }}) as {{ field.name }},
        pivoted.{{ field.name }}__source::text as {{ field.name }}_source,
        pivoted.{{ field.name }}__observed_at as {{ field.name }}_observed_at,
        {%- elif field.live_block %}
        case when {{ is_online }} then {{ typed }} end as {{ field.name }},
        case when {{ is_online }} then pivoted.{{ field.name }}__source::text end as {{ field.name }}_source,
        case when {{ is_online }} then pivoted.{{ field.name }}__observed_at end as {{ field.name }}_observed_at,
        {%- else %}
        {{ typed }} as {{ field.name }},
        pivoted.{{ field.name }}__source::text as {{ field.name }}_source,
        pivoted.{{ field.name }}__observed_at as {{ field.name }}_observed_at,
        {%- endif %}
        {%- endfor %}

        -- the owner's follow relations: false when no complete list or event showed one
        coalesce(follow_state.owner_follows, false) as owner_follows,
        follow_state.owner_follows_since,
        coalesce(follow_state.follows_owner, false) as follows_owner,
        follow_state.follows_owner_since,

        -- recency
        persons.last_seen_at,
        {%- for update in source_update_columns() %}
        source_updates.{{ update.column }},
        {%- endfor %}
        -- the newest landing among the person's inputs
        greatest(persons.landed_at, source_updates.landed_at, follow_state.landed_at) as landed_at

    from persons
    left join pivoted
        on pivoted.person_id = persons.id
    left join source_updates
        on source_updates.person_id = persons.id
    left join follow_state
        on follow_state.person_id = persons.id

)

select * from final
