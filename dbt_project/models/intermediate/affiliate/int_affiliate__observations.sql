{#-
    The Affiliate API's field observations: every history row unpivoted to one
    row per merged field, (person_id, field, source, value jsonb, observed_at,
    landed_at). Every Affiliate row says the person is online (is_online =
    true). Two more fields
    feed the profiles cache only (profile_fields(); merge_rules does not list
    them, so the merge ignores them): is_new, and last_broadcast_at, whose
    value is the crawl's time (the person was broadcasting then). Empty values (null,
    blank strings, empty arrays) are dropped: they never win the merge.
    A view: int_field_observations reads it with a landed_at filter, which
    PostgreSQL pushes down to the landed_at index of affiliate_api_snapshots.
-#}

with

snapshots as (

    select * from {{ ref('affiliate_api_snapshots') }}

),

unpivoted as (

    select
        snapshots.person_id,
        field.field,
        'affiliate'::text as source,
        field.value,
        snapshots.observed_at,
        snapshots.landed_at
    from snapshots
    cross join lateral (
        values
            ('display_name', to_jsonb(snapshots.display_name)),
            ('age', to_jsonb(snapshots.age)),
            ('birthday', to_jsonb(snapshots.birthday)),
            ('location', to_jsonb(snapshots.location)),
            ('country', to_jsonb(snapshots.country)),
            ('spoken_languages', to_jsonb(snapshots.spoken_languages)),
            ('gender', to_jsonb(snapshots.gender)),
            ('is_online', to_jsonb(true)),
            ('current_show', to_jsonb(snapshots.current_show)),
            ('room_subject', to_jsonb(snapshots.room_subject)),
            ('viewers', to_jsonb(snapshots.viewers)),
            ('followers', to_jsonb(snapshots.followers)),
            ('tags', to_jsonb(snapshots.tags)),
            ('image_url', to_jsonb(snapshots.image_url)),
            -- profile-only fields (profile_fields(), not merged)
            ('is_new', to_jsonb(snapshots.is_new)),
            ('last_broadcast_at', to_jsonb({{ utc_iso_text('snapshots.observed_at') }}))
    ) as field (field, value)

),

final as (

    select
        person_id,
        field,
        source,
        value,
        observed_at,
        landed_at
    from unpivoted
    where not {{ jsonb_is_empty('value') }}

)

select * from final
