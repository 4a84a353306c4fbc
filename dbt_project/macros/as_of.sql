{#-
    The build time of the priority merge, as a SQL timestamptz expression.
    Pinned (tests, replays, `mhc build --as-of`) by the var `as_of`
    (`--vars '{as_of: "2026-01-01T12:00:00Z"}'`, what dbt's unit tests set) or
    by the environment variable MHC_AS_OF (what the Dagster dbt asset sets);
    unset, it is now() (the start of the build's transaction).

    MHC_AS_OF is read only when the SQL runs (`execute`), never while dbt
    parses: a new `--vars` makes dbt re-parse the whole project (~10 CPU-s), an
    env_var read at parse time re-parses every model that calls this macro,
    a value read at run time re-parses nothing.
-#}
{% macro as_of() -%}
    {%- set value = var('as_of', none) -%}
    {%- if (value is none or (value | string | trim) in ('', 'none', 'None', 'null')) and execute -%}
        {%- set value = env_var('MHC_AS_OF', '') -%}
    {%- endif -%}
    {%- if value is none or (value | string | trim) in ('', 'none', 'None', 'null') -%}
        now()
    {%- else -%}
        '{{ value | string | trim }}'::timestamptz
    {%- endif -%}
{%- endmacro %}

{#-
    The schema of an as-of build (`mhc build --as-of T`, Dagster job
    dbt_as_of): the state of a past time T is built into its own schema, never
    over the live product. Set by MHC_AS_OF_SCHEMA; empty (every other build)
    means a live build. The models tagged `as_of` (the merge's input
    int_field_observations, follows, person_current_state,
    v_person_current_state, profiles) go to that schema
    (generate_schema_name) and read only what was observed at or before T;
    everything else (histories, persons) is read where it is. Read while dbt
    parses, as the schema must be: an as-of build re-parses the project once
    (~10 CPU-s), which the live builds never pay.
-#}
{% macro as_of_schema() -%}
    {{ return(env_var('MHC_AS_OF_SCHEMA', '') | trim | lower) }}
{%- endmacro %}
