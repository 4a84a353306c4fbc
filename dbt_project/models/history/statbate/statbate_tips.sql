{#-
    StatBate tips, append-only: one row per tip identity (person_id = the
    receiving model, member_person_id = the tipper, tipped_at, tokens, and
    occurrence: the n-th identical tip on one page; two tips of the same
    amount in the same second are two rows, and the most occurrences any
    page showed is what is kept). The
    same tip seen from the model's side and the member's side, or again on
    an overlapping window (every window starts at the last tip already
    fetched), is the same row: the first fetch wins and a re-fetch adds and
    changes nothing. Among new rows of one run the earliest fetch wins
    (seen_from, fetched_at and batch_id say which). Incremental: each run
    reads only staging rows landed after the watermark and inserts the
    identities not held yet; --full-refresh gives the same rows.
-#}
{{
    config(
        materialized='incremental',
        unique_key=['person_id', 'member_person_id', 'tipped_at', 'tokens', 'occurrence'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['person_id', 'member_person_id', 'tipped_at', 'tokens', 'occurrence'], 'unique': True},
            {'columns': ['member_person_id', 'tipped_at']},
            {'columns': ['tipped_at']},
            {'columns': ['landed_at']},
        ],
    )
}}

with

{#
    a tip already held is never touched (nothing is deleted: only new
    identities are written); a table built before occurrence was kept holds
    null there: its tips are first occurrences
#}
{{ history_first_rows(
    ref('stg_statbate__tips'),
    key=['model_person_id', 'member_person_id', 'tipped_at', 'tokens', 'occurrence'],
    order_by='fetched_at, landed_at, batch_id, row_no, tip_no',
    held_match='held.person_id = first_rows.model_person_id
            and held.member_person_id = first_rows.member_person_id
            and held.tipped_at = first_rows.tipped_at
            and held.tokens = first_rows.tokens
            and coalesce(held.occurrence, 1) = first_rows.occurrence',
) }}

final as (

    select
        -- tip identity
        model_person_id as person_id,
        member_person_id,
        tipped_at,
        tokens,
        occurrence,

        -- identity
        model_username,
        member_username,
        platform,

        -- the tip
        usd,
        rid,
        did,

        -- lineage: the first fetch that delivered it
        seen_from,
        fetched_at,
        batch_id,
        landed_at

    from new_rows

)

select * from final
