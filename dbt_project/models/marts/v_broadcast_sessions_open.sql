{#-
    The broadcast sessions not written to broadcast_sessions yet, recomputed
    on every read with the same rules (broadcast_session_ctes()): the running
    ones (is_open: last observation within 10 minutes of the build time for
    affiliate, 6 for cbhours_activity) and those that ended less than the
    gap plus the settle time ago (is_open false), which the next build writes.
    Same columns as broadcast_sessions. With as_of unset the build time is
    now() at query time. Only the persons with rows after the newest written
    session of a source are read, so its cost does not grow with history.
-#}
{{ config(materialized='view') }}

with

{{ broadcast_session_ctes(written=ref('broadcast_sessions')) }},

final as (

    select
        {{ broadcast_session_columns() }}

    from unwritten

)

select * from final
