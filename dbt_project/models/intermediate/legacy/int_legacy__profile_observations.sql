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

final as (

    {{ unpivot_observations('profiles', 'profiles', [
        'display_name', 'age', 'location', 'country', 'spoken_languages', 'gender', 'tags', 'is_new',
        ['last_broadcast_at', utc_iso_text('profiles.last_broadcast_at')],
    ]) }}

)

select * from final
