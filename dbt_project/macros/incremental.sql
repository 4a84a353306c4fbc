{#-
    The watermark of an incremental model: a LITERAL timestamptz, read when
    the model runs, after which the model (re)reads landed rows
    (`landed_at > {{ landed_at_watermark() }}`). A literal, not a sub-query:
    the planner then uses the landed_at indexes of the raw tables and of the
    models, so a build reads the same few pages whatever the length of
    history.

    Exact, from the build marks (below): the oldest landed_at among the
    loader's batches (raw.batches) that the model's last build could not see,
    because they committed after it started. Each batch is read once, at the
    first build after it commits, however long its transaction took; a build
    after which nothing landed reads nothing. (landed_at is the start of the
    loader's transaction, so a batch that commits late has an old landed_at:
    a "newest landed_at held" watermark must look back far enough to catch
    it, and re-read everything landed inside that lookback at every build:
    the last two Affiliate crawls at every CBHours minute.) Only batches whose
    transaction started less than a day before the mark are looked for.

    Without a mark (the first incremental build after a full refresh by an
    older version, or a mark cleared because an upstream model had none):
    the newest landed_at the model holds minus var incremental_lookback_minutes.
    Only call it inside `{% if is_incremental() %}`.
-#}
{% macro landed_at_watermark(relation=none, column='landed_at') -%}
    {%- set rel = relation if relation is not none else this -%}
    {%- set minutes = var('incremental_lookback_minutes', 10) | int -%}
    {%- set lookback -%}
        (select max({{ column }}) - make_interval(mins => {{ minutes }}) from {{ rel }})
    {%- endset -%}
    {%- if (rel | string).startswith('__dbt__cte__') -%}
        {#- a dbt unit test: `this` is a CTE of given rows, not a table run_query can read -#}
        (coalesce({{ lookback }}, '-infinity'::timestamptz))
    {%- elif execute -%}
        {%- set marks = build_marks_relation() -%}
        {#- the marks table, and a ledger that records each batch's transaction (the loader adds landed_xid) -#}
        {%- set has_marks = run_query(
            "select to_regclass('" ~ marks ~ "') is not null and exists (select from information_schema.columns"
            ~ " where table_schema = '" ~ env_var('MHC_RAW_SCHEMA', 'raw') ~ "' and table_name = 'batches'"
            ~ " and column_name = 'landed_xid')"
        ).columns[0].values()[0] -%}
        {%- set exact -%}
            select
                count(*),
                extract(epoch from (
                    select min(batch.landed_at) - interval '1 microsecond'
                    from {{ env_var('MHC_RAW_SCHEMA', 'raw') }}.batches as batch
                    inner join {{ marks }} as mark
                        on mark.relation = '{{ rel }}' and mark.raw_table = batch.raw_table
                    where batch.landed_at > mark.taken_at - interval '1 day'
                        and batch.landed_xid is not null
                        and not pg_visible_in_snapshot(batch.landed_xid, mark.snapshot)
                ))::text,
                extract(epoch from (select max(landed_at) from {{ env_var('MHC_RAW_SCHEMA', 'raw') }}.batches))::text
            from {{ marks }}
            where relation = '{{ rel }}'
        {%- endset -%}
        {%- set row = run_query(exact).rows[0] if has_marks else none -%}
        {%- if row is not none and row[0] > 0 -%}
            {#- marked: the oldest batch committed since; none: the newest batch (nothing is newer) -#}
            {%- set epoch = row[1] if row[1] is not none else row[2] -%}
        {%- else -%}
            {%- set epoch = run_query("select extract(epoch from " ~ lookback ~ ")::text").columns[0].values()[0] -%}
        {%- endif -%}
        {%- if epoch is none -%}
            '-infinity'::timestamptz
        {%- else -%}
            to_timestamp({{ epoch }})
        {%- endif -%}
    {%- else -%}
        '-infinity'::timestamptz
    {%- endif -%}
{%- endmacro %}

{#-
    Build marks: what each incremental model has read, per raw table it
    reads (through any models in between). A mark is a PostgreSQL snapshot
    (pg_current_snapshot()) taken when a dbt invocation starts (on-run-start:
    start_build_marks()); every batch of that raw table the snapshot can see
    (raw.batches.landed_xid) was read by the model. After a model is built,
    its post-hook (record_build_mark()) sets its mark for each raw table to
    the older of the invocation's snapshot and the marks, for that table, of
    the incremental models it reads it through: a model built while such a
    model was not (a build of one source's models) must not pass over that
    table's rows the model in between has not written yet, and a source
    built once a day holds back only its own tables. A model with a raw table
    that has no mark gets no marks (the lookback) until it has. The marks are
    written in the model's own transaction: a failed build keeps the old ones.
-#}
{% macro build_marks_relation() -%}
    {{ return(env_var('MHC_INTERMEDIATE_SCHEMA', 'intermediate') ~ '.dbt_build_marks') }}
{%- endmacro %}

{% macro start_build_marks() -%}
    {%- if execute -%}
    {#- two builds starting at once on a new database: one creates, the other waits (no duplicate-key error) -#}
    select pg_advisory_xact_lock(hashtext('mhc_pipeline.dbt_build_marks'));
    create schema if not exists {{ env_var('MHC_INTERMEDIATE_SCHEMA', 'intermediate') }};
    create table if not exists {{ build_marks_relation() }} (
        relation  text not null,
        raw_table text not null,
        snapshot  pg_snapshot not null,
        taken_at  timestamptz not null,
        primary key (relation, raw_table)
    );
    delete from {{ build_marks_relation() }}
    where relation like 'invocation %' and taken_at < now() - interval '1 day';
    insert into {{ build_marks_relation() }} (relation, raw_table, snapshot, taken_at)
    values ('invocation {{ invocation_id }}', '', pg_current_snapshot(), now());
    commit;
    {%- endif -%}
{%- endmacro %}

{#- The raw tables a node reads, directly or through any models. -#}
{% macro raw_tables_of(node, found=none) -%}
    {%- set found = found if found is not none else [] -%}
    {%- for parent_id in node.depends_on.nodes -%}
        {%- if parent_id in graph.sources and graph.sources[parent_id].source_name == 'raw' -%}
            {%- set table = graph.sources[parent_id].identifier -%}
            {%- if table not in found -%}
                {%- do found.append(table) -%}
            {%- endif -%}
        {%- elif parent_id in graph.nodes and graph.nodes[parent_id].resource_type == 'model' -%}
            {%- do raw_tables_of(graph.nodes[parent_id], found) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}

{#- The incremental models a node reads, directly or through views: [(relation, node)]. -#}
{% macro incremental_parents(node, found=none) -%}
    {%- set found = found if found is not none else [] -%}
    {%- for parent_id in node.depends_on.nodes if parent_id in graph.nodes -%}
        {%- set parent = graph.nodes[parent_id] -%}
        {%- if parent.resource_type == 'model' and parent.config.materialized == 'incremental' -%}
            {%- set relation = api.Relation.create(database=parent.database, schema=parent.schema,
                                                   identifier=parent.alias) | string -%}
            {%- if relation not in found | map(attribute=0) | list -%}
                {%- do found.append((relation, parent)) -%}
            {%- endif -%}
        {%- elif parent.resource_type == 'model' and parent.config.materialized in ('view', 'ephemeral') -%}
            {%- do incremental_parents(parent, found) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}

{% macro record_build_mark() -%}
    {%- if execute and model.config.materialized == 'incremental' and not (this | string).startswith('__dbt__cte__') -%}
    {%- set marks = build_marks_relation() -%}
    {%- set tables = raw_tables_of(model) -%}
    {%- set parents = incremental_parents(model) -%}
    delete from {{ marks }} where relation = '{{ this }}';
    {%- for table in tables %}
        {%- set via = [] -%}
        {%- for relation, parent in parents if table in raw_tables_of(parent) -%}
            {%- do via.append(relation) -%}
        {%- endfor %}
    insert into {{ marks }} (relation, raw_table, snapshot, taken_at)
    select '{{ this }}', '{{ table }}', snapshot, taken_at
    from {{ marks }}
    {%- if via %}
        {%- set via_list %}({% for r in via %}'{{ r }}'{% if not loop.last %}, {% endif %}{% endfor %}){% endset %}
    where (relation = 'invocation {{ invocation_id }}' or (raw_table = '{{ table }}' and relation in {{ via_list }}))
        and (select count(*) from {{ marks }} where raw_table = '{{ table }}' and relation in {{ via_list }})
            = {{ via | length }}
    {%- else %}
    where relation = 'invocation {{ invocation_id }}'
    {%- endif %}
    order by taken_at
    limit 1;
    {%- endfor %}
    {#- all or nothing: a raw table without a mark (one of the models in between has none) means the lookback -#}
    delete from {{ marks }}
    where relation = '{{ this }}'
        and (select count(*) from {{ marks }} where relation = '{{ this }}') < {{ tables | length }}
    {%- endif -%}
{%- endmacro %}
