{#-
    What a build of the priority merge (person_current_state) recomputes.

    A person's merged row depends on its inputs (its int_field_observations
    rows, its persons row, its follows rows) and on the build time as_of(),
    through the windows of merge_rules (a candidate is fresh while as_of -
    observed_at <= max_age_minutes) and the rule that nothing observed after
    as_of is a candidate. So between two builds at times T0 and T1 a
    person's row can only change if
      1. an input changed: int_field_observations or persons rows landed
         after the model's watermark (landed_at_watermark(), exact through the
         build marks), or its follow state differs from the row held;
      2. a window was crossed: an observation of a rule with max_age_minutes
         M was observed in [min(T0, T1) - M, max(T0, T1) - M);
      3. an observation became, or stopped being, a candidate: observed in
         (min(T0, T1), max(T0, T1)].
    A live build recomputes only those persons (merge_affected_persons()):
    the CBHours minute touches ~300 of 24,000, and its cost no longer follows
    the number of persons. Everyone is recomputed on a full refresh, on an
    as-of build (its own schema, built whole), on the first build after
    either the model's code, the merged fields or the merge_rules rows
    changed (merge_fingerprint()), when no previous build is recorded, and
    when asked (MHC_MERGE_RECOMPUTE=1, Dagster config recompute_merge, `mhc
    build --recompute-merge`: in place, unlike a full refresh's table swap).

    The last build is one row in person_current_state_build beside the model
    (merge_build_relation()), written by the model's post-hook in its own
    transaction (record_merge_build()): its as_of is the state's time
    (v_person_current_state.state_as_of), which the rows of persons nobody
    touched cannot carry.
-#}

{% macro merge_build_relation(state_relation) -%}
    {{ return(api.Relation.create(database=state_relation.database, schema=state_relation.schema,
                                  identifier='person_current_state_build')) }}
{%- endmacro %}

{#- Everything a merged row is computed from besides its inputs: the model's code, the merged fields, the rules. -#}
{% macro merge_fingerprint() -%}
    {%- set rules -%}
        select coalesce(string_agg(concat_ws('|', field, source, rank, max_age_minutes, fallback), ';'
                                   order by field, source), '')
        from {{ ref('merge_rules') }}
    {%- endset -%}
    {%- set rows = run_query(rules).columns[0].values()[0] if execute else '' -%}
    {{ return(local_md5(model.raw_code ~ '|' ~ (merged_fields() | tojson) ~ '|' ~ rows)) }}
{%- endmacro %}

{#-
    The previous build's time as a timestamptz literal when this build may
    recompute only the affected persons; none when it must recompute everyone.
-#}
{% macro merge_previous_as_of() -%}
    {#- (a dbt unit test has no `this`, or a CTE of given rows: everyone, from the given inputs) -#}
    {%- if not execute or this is none or (this | string).startswith('__dbt__cte__') or not is_incremental()
          or as_of_schema() or env_var('MHC_MERGE_RECOMPUTE', '') | trim in ('1', 'true') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set build = merge_build_relation(this) -%}
    {%- if not run_query("select to_regclass('" ~ build ~ "') is not null").columns[0].values()[0] -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set rows = run_query("select as_of::text, fingerprint from " ~ build).rows -%}
    {%- if rows | length != 1 or rows[0][1] != merge_fingerprint() -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return("'" ~ rows[0][0] ~ "'::timestamptz") }}
{%- endmacro %}

{#-
    The ids of the persons whose merged row can differ from the one held
    (the three reasons above), as a select. `previous` is the last build's
    time, `follow_state` the name of a CTE with the follow columns of every
    person in follows.
-#}
{% macro merge_affected_persons(previous, follow_state) -%}
    {%- set since = landed_at_watermark() -%}
    {%- set observations = ref('int_field_observations') -%}
    {%- set earlier = 'least(' ~ previous ~ ', ' ~ as_of() ~ ')' -%}
    {%- set later = 'greatest(' ~ previous ~ ', ' ~ as_of() ~ ')' -%}
    -- 1. new inputs: observations and persons landed since the last build, follow states that differ
    select person_id as id
    from {{ observations }}
    where landed_at > {{ since }}
    union
    select id
    from {{ ref('persons') }}
    where landed_at > {{ since }}
    union
    select {{ follow_state }}.person_id
    from {{ follow_state }}
    left join {{ this }} as held
        on held.id = {{ follow_state }}.person_id
    where (
        coalesce({{ follow_state }}.owner_follows, false), {{ follow_state }}.owner_follows_since,
        coalesce({{ follow_state }}.follows_owner, false), {{ follow_state }}.follows_owner_since
    ) is distinct from (held.owner_follows, held.owner_follows_since, held.follows_owner, held.follows_owner_since)
    union
    -- 2. windows crossed between the two build times (an index range per rule)
    select crossed.person_id
    from {{ ref('merge_rules') }} as rule
    cross join lateral (
        select observation.person_id
        from {{ observations }} as observation
        where observation.field = rule.field
            and observation.source = rule.source
            and observation.observed_at >= {{ earlier }} - make_interval(mins => rule.max_age_minutes::integer)
            and observation.observed_at < {{ later }} - make_interval(mins => rule.max_age_minutes::integer)
    ) as crossed
    where rule.max_age_minutes is not null
    union
    -- 3. observed between the two build times: a candidate now and not then, or the reverse
    select seen.person_id
    from (select distinct field, source from {{ ref('merge_rules') }}) as rule
    cross join lateral (
        select observation.person_id
        from {{ observations }} as observation
        where observation.field = rule.field
            and observation.source = rule.source
            and observation.observed_at > {{ earlier }}
            and observation.observed_at <= {{ later }}
    ) as seen
{%- endmacro %}

{#- post-hook of person_current_state: its build time and how many persons it merged, in its own transaction (one row) -#}
{% macro record_merge_build() -%}
    {%- if execute and this is not none and not (this | string).startswith('__dbt__cte__') -%}
    {%- set build = merge_build_relation(this) -%}
    create table if not exists {{ build }} (
        as_of          timestamptz not null,
        fingerprint    text not null,
        persons_merged integer not null,
        built_at       timestamptz not null
    );
    delete from {{ build }};
    insert into {{ build }} (as_of, fingerprint, persons_merged, built_at)
    select
        {{ as_of() }},
        '{{ merge_fingerprint() }}',
        -- the rows this transaction wrote (xmin: the transaction that wrote the row version)
        (select count(*) from {{ this }} where xmin::text::bigint = pg_current_xact_id()::text::bigint % 4294967296),
        clock_timestamp()
    {%- endif -%}
{%- endmacro %}
