{#-
    The latest non-empty value of every (person, field, source): the input of
    the priority merge. Incremental and independent of the length of history:
    each run reads only the observations landed after the watermark (newest
    landed_at here minus the lookback), takes the latest per key among them,
    compares it with the row already held for that key and keeps the newer.
    Only keys whose newest observation changed are written. Indexed on
    (field, source, observed_at) for the merge's window crossings
    (macros/merge_scope.sql).
    The observation models of all sources are unioned (observation_models():
    the `observations` of every entry of the source map, var `sources`).
-#}
{{
    config(
        materialized='incremental',
        unique_key=['person_id', 'field', 'source'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        tags=['as_of'],
        indexes=[
            {'columns': ['person_id', 'field', 'source'], 'unique': True},
            {'columns': ['landed_at']},
            {'columns': ['field', 'source', 'observed_at']},
        ],
    )
}}

with

observations as (

    {% for model_name in observation_models() %}
    select
        person_id,
        field::text as field,
        source::text as source,
        value::jsonb as value,
        observed_at,
        landed_at,
        false as is_held
    from {{ ref(model_name) }}
    where not {{ jsonb_is_empty('value') }}
        {% if is_incremental() %}
        and landed_at > {{ landed_at_watermark() }}
        {% endif %}
        {%- if as_of_schema() %}
        and observed_at <= {{ as_of() }}  -- an as-of build: the newest per key as it was then
        {%- endif %}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

{% if is_incremental() %}
touched_keys as (

    select distinct person_id, field, source from observations

),

held as (

    select
        this.person_id,
        this.field,
        this.source,
        this.value,
        this.observed_at,
        this.landed_at,
        true as is_held
    from {{ this }} as this
    inner join touched_keys
        on touched_keys.person_id = this.person_id
        and touched_keys.field = this.field
        and touched_keys.source = this.source

),

candidates as (

    select * from observations
    union all
    select * from held

),
{% else %}
candidates as (

    select * from observations

),
{% endif %}

latest as (

    -- the newest observation per key. Two observations of one source at the
    -- same time and landing (a CBHours live check and an activity segment)
    -- are told apart by their value, so that the winner does not depend on
    -- the order of processing; on a full tie the row already held stays
    select distinct on (person_id, field, source) *
    from candidates
    order by person_id, field, source, observed_at desc, landed_at desc, value desc, is_held desc

),

final as (

    -- only keys whose value changed are rewritten (re-reads inside the
    -- lookback and late, older observations leave the held row alone)
    select
        person_id,
        field,
        source,
        value,
        observed_at,
        landed_at
    from latest
    where not is_held

)

select * from final
