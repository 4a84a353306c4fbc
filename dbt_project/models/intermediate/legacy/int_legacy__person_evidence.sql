{#-
    Identity evidence from the legacy persons table: every imported person is
    a person (the username, lower-cased, gives our id), first seen at its
    legacy first_seen_at. The role is evidence, not truth
    (stg_legacy__persons): folded by persons with what every other source
    shows (an imported Affiliate row still makes the person a model). The
    legacy last_seen_at is not evidence (the legacy code bumped it on every
    page view).
-#}

with

persons as (

    select * from {{ ref('stg_legacy__persons') }}
    where reject_reason is null

),

final as (

    select
        person_id,
        username,
        platform,
        role,
        first_seen_at as seen_at,
        landed_at
    from persons
    where first_seen_at is not null

)

select * from final
