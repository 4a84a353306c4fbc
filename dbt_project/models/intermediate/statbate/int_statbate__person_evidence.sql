{#-
    Identity evidence from StatBate: a found model-info answer shows a model
    account (role 'model', seen_at = captured_at), a found member-info answer
    a member, i.e. a tipper (role 'viewer'); every tip shows its receiver as
    a model and its tipper as a viewer (seen_at = tipped_at). 404 answers are
    no evidence (a username StatBate does not know). persons folds the
    evidence of every source (identity_evidence_models()) into one row per
    person, so every found info row and both people of every tip have a
    persons row.
-#}

with

model_info as (

    select * from {{ ref('statbate_model_info') }}
    where is_found

),

member_info as (

    select * from {{ ref('statbate_member_info') }}
    where is_found

),

tips as (

    select * from {{ ref('statbate_tips') }}

),

tip_evidence as (

    -- both people of a tip, from one reference to statbate_tips (keeps the landed_at filter on its index)
    select
        piece.person_id,
        piece.username,
        tips.platform,
        piece.role,
        tips.tipped_at as seen_at,
        tips.landed_at
    from tips
    cross join lateral (
        values
            (tips.person_id, tips.model_username, 'model'),
            (tips.member_person_id, tips.member_username, 'viewer')
    ) as piece (person_id, username, role)

),

final as (

    select person_id, username, platform, 'model'::text as role, captured_at as seen_at, landed_at
    from model_info

    union all

    select person_id, username, platform, 'viewer'::text as role, captured_at as seen_at, landed_at
    from member_info

    union all

    select person_id, username, platform, role::text, seen_at, landed_at
    from tip_evidence

)

select * from final
