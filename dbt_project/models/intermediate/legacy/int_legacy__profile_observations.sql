{#-
    Field observations from the legacy profiles table (source 'profiles',
    the original design's enrichment cache): display_name, age, location,
    country, spoken_languages, gender, tags, is_new and last_broadcast_at,
    observed when the legacy system last wrote the profile. Ranked by
    merge_rules like any source (after the live sources: the original
    design's "affiliate, then profiles"); the profiles product table takes
    the newest of any source.
-#}

with

profiles as (

    select * from {{ ref('stg_legacy__profiles') }}
    where reject_reason is null

),

unpivoted as (

    select
        profiles.person_id,
        field.field,
        'profiles'::text as source,
        field.value,
        profiles.observed_at,
        profiles.landed_at
    from profiles
    cross join lateral (
        values
            ('display_name', to_jsonb(profiles.display_name)),
            ('age', to_jsonb(profiles.age)),
            ('location', to_jsonb(profiles.location)),
            ('country', to_jsonb(profiles.country)),
            ('spoken_languages', to_jsonb(profiles.spoken_languages)),
            ('gender', to_jsonb(profiles.gender)),
            ('tags', to_jsonb(profiles.tags)),
            ('is_new', to_jsonb(profiles.is_new)),
            ('last_broadcast_at', to_jsonb({{ utc_iso_text('profiles.last_broadcast_at') }}))
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
