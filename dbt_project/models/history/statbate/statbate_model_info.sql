{#-
    History of StatBate model info, append-only: one row per (person, fetch),
    keyed on (person_id, captured_at). Every fetch is a new row, successes
    and 404s alike (is_found false: the person was not known to StatBate at
    that time); nothing is ever updated or pruned (the original kept two rows
    per person and lost the rest). Incremental: each run reads only staging
    rows landed after the watermark and skips batches it already holds, so a
    re-run adds nothing; --full-refresh rebuilds the same rows from raw.
-#}
{{
    config(
        materialized='incremental',
        unique_key=['person_id', 'captured_at'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['person_id', 'captured_at'], 'unique': True},
            {'columns': ['captured_at']},
            {'columns': ['landed_at']},
        ],
    )
}}

with

{# two batches (a daily run and a look-up) sharing a fetch time: the first wins #}
{{ history_increment(
    ref('stg_statbate__model_info'), ref('stg_legacy__statbate_model_info'),
    key=['person_id', 'captured_at'], order_by='landed_at, batch_id, row_no',
) }}

final as (

    select
        -- keys
        person_id,
        captured_at,
        batch_id,
        row_no,

        -- identity
        username,
        platform,
        site,

        -- the answer
        is_found,
        error_message,
        rid,
        gender,
        gender_int,
        rank,
        sessions_count,
        sessions_total_minutes,
        sessions_average_minutes,
        income_tokens,
        income_usd,
        tags,
        range_start,
        range_end,

        -- lineage
        landed_at,
        origin

    from deduplicated

)

select * from final
