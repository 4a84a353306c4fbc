{#-
    Identity evidence from CBHours: role 'model'. CBHours only serves models
    of its trophy database, so every get_live entry is a model account: an
    Online entry shows the person broadcasting, and an Offline entry is
    evidence too (seen_at = checked_at), so that every person CBHours reports
    on (and every observation and history row keyed on them) has a persons
    row even before it is ever seen online. Every activity segment shows the
    person broadcasting at the segment's time. persons folds the evidence of
    every source (identity_evidence_models()) into one row per person.
-#}

with

live as (

    select * from {{ ref('cbhours_live_stats') }}

),

activity as (

    select * from {{ ref('cbhours_activity') }}

),

final as (

    select
        person_id,
        username,
        platform,
        'model'::text as role,
        checked_at as seen_at,
        landed_at
    from live

    union all

    select
        person_id,
        username,
        platform,
        'model'::text as role,
        timestamp as seen_at,
        landed_at
    from activity

)

select * from final
