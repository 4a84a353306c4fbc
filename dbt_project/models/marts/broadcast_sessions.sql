{#-
    Broadcast sessions derived from history, append-only: one row per closed
    session, written once and never changed. Sources and their rules are in
    broadcast_session_sources() (macros/broadcast_sessions.sql):
      - affiliate: consecutive snapshots of a person whose estimated start
        (observed_at - seconds_online) stays within +-10 minutes of the
        previous one's, with no gap of more than 10 minutes in which the
        Affiliate crawls went on without the person;
      - cbhours_activity: consecutive 3-minute segments with gaps of at most
        6 minutes.
    A session is closed, and written, once its last observation is older than
    the gap (10 / 6 min) plus var broadcast_session_settle_minutes (30) before
    both the build time as_of() and the source's newest observation: no row
    landing in order can change it any more. Until then it is in
    v_broadcast_sessions_open (recomputed on every read); v_broadcast_sessions
    has both.

    Incremental (the unique key only makes a repeated run harmless: a written
    session is never rewritten): only the (person, source) pairs with rows
    landed since the last build, or with rows after the newest written
    session of their source, are recomputed, each from the end of its last
    written session (broadcast_session_ctes()). --full-refresh cuts all of
    history at once and gives the same rows, since the ids are deterministic
    and a session is only written when it is final.
-#}
{{
    config(
        materialized='incremental',
        unique_key='session_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['session_id'], 'unique': True},
            {'columns': ['person_id', 'source', 'ended_at']},
            {'columns': ['source', 'ended_at']},
            {'columns': ['started_at']},
            {'columns': ['landed_at']},
        ],
    )
}}

with

{% if is_incremental() -%}
{{ broadcast_session_ctes(written=this, landed_after=landed_at_watermark()) }},
{%- else -%}
{{ broadcast_session_ctes() }},
{%- endif %}

final as (

    select
        {{ broadcast_session_columns() }}

    from unwritten
    where is_closed

)

select * from final
