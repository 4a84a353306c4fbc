{#-
    Identity evidence from the owner's complete follow lists
    (follow_list_entries), seen_at = the capture time: people the owner
    follows are broadcasters (role 'model'); people who follow the owner
    are viewers (role 'viewer'). Incomplete lists give no evidence (they
    change nothing). The follow / unfollow events are already evidence
    through int_events__person_evidence. persons folds the evidence of every
    source (identity_evidence_models()) into one row per person.
-#}

with

entries as (

    select * from {{ ref('follow_list_entries') }}

),

final as (

    select
        person_id,
        username,
        platform,
        case direction when 'following' then 'model' else 'viewer' end as role,
        captured_at as seen_at,
        landed_at
    from entries

)

select * from final
