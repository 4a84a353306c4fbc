{#-
    Identity evidence from the Chaturbate Stats API: role 'owner'. The Stats
    API only answers for the token's owner, so every snapshot is evidence
    that its username is the owner's account (seen_at = captured_at). It
    also gives the owner a persons row before any Events API event or
    Affiliate crawl has seen them, so snapshots.person_id always relates to
    persons. persons folds the evidence of every source
    (identity_evidence_models()) into one row per person.
-#}

with

snapshots as (

    select * from {{ ref('snapshots') }}

),

final as (

    select
        person_id,
        username,
        platform,
        'owner'::text as role,
        captured_at as seen_at,
        landed_at
    from snapshots

)

select * from final
