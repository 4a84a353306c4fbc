{#-
    Whether CBHours serves a model (its "trophy database"), from the latest
    get_activity answer for that model: one row per person. A success means
    in the database; "Error Code:300" means not (the model needs a
    trophy/calendar icon in the bio and one CBHours studio search). The
    newest answer (largest fetched_at, landed_at, batch_id, row_no) wins, so
    the result does not depend on the order in which batches are processed
    and --full-refresh gives the same rows. Incremental: each run reads only
    the answers landed after the watermark and writes a person only when a
    newer answer arrived.
-#}
{{
    config(
        materialized='incremental',
        unique_key='person_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['person_id'], 'unique': True},
            {'columns': ['landed_at']},
        ],
    )
}}

with

answers as (

    select * from {{ ref('stg_cbhours__activity_answers') }}
    where reject_reason is null
    {% if is_incremental() %}
        and landed_at > {{ landed_at_watermark() }}
    {% endif %}

),

latest as (

    select distinct on (person_id) *
    from answers
    order by person_id, fetched_at desc, landed_at desc, batch_id desc, row_no desc

),

newer as (

    select latest.*
    from latest
    {% if is_incremental() %}
    -- a person whose held answer is the same or newer stays as it is
    where not exists (
        select 1
        from {{ this }} as held
        where held.person_id = latest.person_id
            and (held.checked_at, held.landed_at, held.batch_id, held.row_no)
                >= (latest.fetched_at, latest.landed_at, latest.batch_id, latest.row_no)
    )
    {% endif %}

),

final as (

    select
        -- key
        person_id,

        -- identity
        username,
        platform,

        -- the latest answer
        in_trophy_db,
        is_success,
        error_code,
        error_message,
        fetched_at as checked_at,

        -- lineage
        batch_id,
        row_no,
        landed_at

    from newer

)

select * from final
