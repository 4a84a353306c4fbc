{#-
    Rows a source sent that the product cannot use are SET ASIDE at
    staging, never allowed to stop a build (a failing error test would skip
    every model after it, the merged state included).

    Every staging model that feeds a history table has a first column
    `reject_reason`: null for a good row, else one line naming the problem
    (and, where there is one, the fix). The history models read only rows
    whose reject_reason is null; each source's `stg_<source>__rejects` view
    lists the others with their reason, and its warning check
    (`no_rows_set_aside`) shows the count and the reasons in the Dagster UI.

    reject_reason(rules): `rules` is a list of (condition, reason) pairs of
    SQL expressions, first match wins, e.g.
        reject_reason([
            ('person_id is null', "'no username'"),
            ("message is null and method = 'chatMessage'", "'blank chat message'"),
        ])
-#}
{% macro reject_reason(rules) -%}
    (case
    {%- for condition, reason in rules %}
        when {{ condition }} then {{ reason }}
    {%- endfor %}
    end)::text
{%- endmacro %}

{#-
    The reason of the first field whose value the source sent in the wrong
    type (a non-empty value that does not cast), else null: `fields` is a
    list of (name, raw text expression, SQL type). Without it such a value
    would silently become null (try_cast) and win nothing in the merge, with
    no one told; with it the row is set aside like any other bad row.
-#}
{% macro wrong_type_reason(fields) -%}
    coalesce(
    {%- for name, raw, data_type in fields %}
        case when nullif(btrim({{ raw }}), '') is not null and not pg_input_is_valid(btrim({{ raw }}), '{{ data_type }}')
            then '{{ name }} is not {{ "a whole number" if data_type in ("integer", "bigint") else "a " ~ data_type }}: ' || quote_literal({{ raw }})
        end
        {%- if not loop.last %},{% endif %}
    {%- endfor %}
    )
{%- endmacro %}

{#- The reason of a value outside a seed's vocabulary: names the value and the seed to add it to. -#}
{% macro unknown_code_reason(what, expr, seed) -%}
    'unknown {{ what }} ' || quote_literal({{ expr }}) || ' (add it to seeds/{{ seed }}.csv, then rebuild with --full-refresh)'
{%- endmacro %}

{#-
    A source's rejects view: the rows of its staging models whose
    reject_reason is set, in one shape: (source, model, batch_id, row_no,
    landed_at, username, reason). `models` is a list of (staging model,
    username expression[, row number expression]) tuples; the row number is
    `row_no` unless given (a model without one passes 'null::integer').
-#}
{% macro rejects_of(source_name, models) -%}
    {%- for m in models %}
    {%- set model_name, username = m[0], m[1] %}
    select
        '{{ source_name }}'::text as source,
        '{{ model_name }}'::text as model,
        batch_id,
        {{ m[2] if m | length > 2 else 'row_no' }} as row_no,
        landed_at,
        ({{ username }})::text as username,
        reject_reason as reason
    from {{ ref(model_name) }}
    where reject_reason is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
