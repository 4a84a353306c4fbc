{#-
    One row per person: id, username, platform, role, first_seen_at,
    last_seen_at. The id is derived from (platform, lower(username)) by the
    person_id() macro, so a rebuild gives the same ids. The role is derived
    from the evidence of every source (identity_evidence_models()):
    'model' (seen broadcasting: Affiliate, CBHours), 'viewer' (seen in the
    owner's room: Events API), 'both' (model and viewer evidence), or
    'owner' (the broadcaster of the Events feed, or the configured owner
    owner_username(); it outranks the others).
    Incremental: only evidence landed after the watermark is read, and folded
    into the rows already held for those persons (the folding is associative,
    so --full-refresh gives the same rows). Only persons whose row changes
    are written.
-#}
{{
    config(
        materialized='incremental',
        unique_key='id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['id'], 'unique': True},
            {'columns': ['platform', 'username'], 'unique': True},
            {'columns': ['landed_at']},
        ],
    )
}}

with

evidence as (

    {% for model_name in identity_evidence_models() %}
    select
        person_id,
        username::text as username,
        platform::text as platform,
        role::text as role,
        seen_at,
        landed_at
    from {{ ref(model_name) }}
    {% if is_incremental() %}
    where landed_at > {{ landed_at_watermark() }}
    {% endif %}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

new_evidence as (

    select
        person_id,
        min(username) as username,
        min(platform) as platform,
        bool_or(role in ('model', 'both')) as is_model,
        bool_or(role in ('viewer', 'both')) as is_viewer,
        bool_or(role = 'owner') as is_owner,
        min(seen_at) as first_seen_at,
        max(seen_at) as last_seen_at,
        max(landed_at) as landed_at
    from evidence
    group by person_id

),

{% if is_incremental() %}
held as (

    select
        persons.id as person_id,
        persons.username,
        persons.platform,
        persons.role in ('model', 'both') as is_model,
        persons.role in ('viewer', 'both') as is_viewer,
        persons.role = 'owner' as is_owner,
        persons.first_seen_at,
        persons.last_seen_at,
        persons.landed_at
    from {{ this }} as persons
    where persons.id in (select new_evidence.person_id from new_evidence)

),

candidates as (

    select * from new_evidence
    union all
    select * from held

),
{% else %}
candidates as (

    select * from new_evidence

),
{% endif %}

folded as (

    select
        person_id,
        min(username) as username,
        min(platform) as platform,
        bool_or(is_model) as is_model,
        bool_or(is_viewer) as is_viewer,
        bool_or(is_owner) as is_owner,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        max(landed_at) as landed_at
    from candidates
    group by person_id

),

roled as (

    select
        folded.*,
        case
            when folded.is_owner or folded.username = {{ owner_username() }} then 'owner'
            when folded.is_model and folded.is_viewer then 'both'
            when folded.is_model then 'model'
            when folded.is_viewer then 'viewer'
        end as role
    from folded

),

changed as (

    select roled.*
    from roled
    {% if is_incremental() %}
    -- only persons whose row changes are rewritten (evidence re-read inside
    -- the lookback changes nothing). The stored role is compared, not the
    -- evidence bits (an owner row does not keep its model/viewer bits), and
    -- landed_at too: it only moves when genuinely new evidence landed
    -- (re-read rows are never newer than what is held), and keeping it up
    -- to date is what makes --full-refresh give the same rows.
    left join {{ this }} as current_row
        on current_row.id = roled.person_id
    where current_row.id is null
        or (roled.role, roled.first_seen_at, roled.last_seen_at, roled.landed_at)
            is distinct from (current_row.role, current_row.first_seen_at, current_row.last_seen_at, current_row.landed_at)
    {% endif %}

),

final as (

    select
        person_id as id,
        username,
        platform,
        role,
        first_seen_at,
        last_seen_at,
        landed_at
    from changed

)

select * from final
