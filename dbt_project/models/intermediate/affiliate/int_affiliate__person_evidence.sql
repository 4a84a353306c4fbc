{#-
    Identity evidence from the Affiliate API: every history row shows the
    person broadcasting, so the role evidence is 'model'. persons folds the
    evidence of every source (identity_evidence_models()) into one row per
    person.
-#}

with

snapshots as (

    select * from {{ ref('affiliate_api_snapshots') }}

),

final as (

    select
        person_id,
        username,
        platform,
        'model'::text as role,
        observed_at as seen_at,
        landed_at
    from snapshots

)

select * from final
