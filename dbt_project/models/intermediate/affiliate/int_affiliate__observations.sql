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

final as (

    {# is_new and last_broadcast_at: profile-only (profile_fields(), not merged) #}
    {{ unpivot_observations('snapshots', 'affiliate', [
        'display_name', 'age', 'birthday', 'location', 'country', 'spoken_languages', 'gender',
        ['is_online', 'true'],
        'current_show', 'room_subject', 'viewers', 'followers', 'tags', 'image_url',
        'is_new',
        ['last_broadcast_at', utc_iso_text('snapshots.observed_at')],
    ]) }}

)

select * from final
