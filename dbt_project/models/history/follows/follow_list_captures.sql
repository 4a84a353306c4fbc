{#-
    One row per captured follow list, complete or not (the report of every
    list the pipeline saw: an incomplete one is kept here with its problems
    and changes nothing downstream). Incremental on batch_id; only captures
    landed after the watermark are read.
-#}
{{
    config(
        materialized='incremental',
        unique_key='batch_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['batch_id'], 'unique': True},
            {'columns': ['direction', 'captured_at']},
            {'columns': ['landed_at']},
        ],
    )
}}

with

lists as (

    select * from {{ ref('stg_follows__lists') }}
    where direction in ('following', 'follower')
    {% if is_incremental() %}
        and landed_at > {{ landed_at_watermark() }}
    {% endif %}

),

final as (

    select
        batch_id,
        direction,
        via,
        source,
        captured_at,
        is_complete,
        reported_total,
        listed,
        pages,
        problems,
        verdict,
        file_name,
        landed_at
    from lists

)

select * from final
