{#-
    Identity evidence from the owner's Events API feed, read from
    interactions (one row per event id, first landing; a replayed event is
    no new evidence), seen_at = the event time:
    - the broadcaster of every event is the owner (role 'owner');
    - every actor (object.user) that is not the owner is a viewer (role
      'viewer'): seen in the owner's room, or writing to the owner directly
      (a private message without a broadcaster);
    - an actor who is the owner (the event's broadcaster, or the configured
      owner_username()) is 'owner' evidence.
    persons folds the evidence of every source (identity_evidence_models())
    into one row per person.
-#}

with

events as (

    select * from {{ ref('interactions') }}

),

evidence as (

    -- two pieces of evidence per event, from one reference to interactions
    -- (a CTE read twice would be materialised, and the landed_at filter of
    -- persons would no longer reach the index)
    select
        piece.person_id,
        piece.username,
        'chaturbate'::text as platform,
        piece.role,
        events.occurred_at as seen_at,
        events.landed_at
    from events
    cross join lateral (
        values
            -- the broadcaster: the owner
            (
                case when events.broadcaster is not null then {{ person_id("'chaturbate'", 'events.broadcaster') }} end,
                events.broadcaster,
                'owner'
            ),
            -- the actor: the owner too when it is the broadcaster or the configured owner, else a viewer
            (
                events.person_id,
                events.username,
                case
                    when events.username = events.broadcaster or events.username = {{ owner_username() }} then 'owner'
                    else 'viewer'
                end
            )
    ) as piece (person_id, username, role)
    where piece.person_id is not null

),

final as (

    select
        person_id,
        username,
        platform,
        role,
        seen_at,
        landed_at
    from evidence

)

select * from final
