{#-
    The increment of a history model: the CTEs (no leading `with`, ending
    in a trailing comma) that read the staging rows landed after the
    watermark and keep one row per key. The model then selects its columns
    `from deduplicated` (history_increment) or `from new_rows`
    (history_first_rows). The watermark is a literal (landed_at_watermark()),
    so the landed_at indexes of the staging's raw table and of the model are
    used; the model's config (unique_key, incremental_strategy, indexes)
    stays in the model.
-#}

{#-
    The good staging rows of `live` (a relation) landed after the watermark,
    and with `legacy`, the rows imported from the legacy MHC Control Panel
    (origin 'live' for the first, the legacy staging model says 'legacy').
    `where`: an extra condition on both.
-#}
{% macro history_staged(live, legacy=none, where=none) -%}
    {%- for relation in [live, legacy] if relation is not none %}
    {%- if not loop.first %}

    union all

    -- imported from the legacy MHC Control Panel
    {%- endif %}
    select *{% if legacy is not none and loop.first %}, 'live'::text as origin{% endif %} from {{ relation }}
    where reject_reason is null
    {%- if where %}
        and {{ where }}
    {%- endif %}
    {%- if is_incremental() %}
        and landed_at > {{ landed_at_watermark() }}
    {%- endif %}
    {%- endfor %}
{%- endmacro %}

{#-
    A history whose rows are whole batches: the staged rows of batches the
    model does not hold yet (a re-run of a landed batch adds nothing), one
    row per `key` (a list of columns) by `order_by` (the tie-break after the
    key: which of two new batches sharing a key wins). CTEs staged,
    loaded_batches, new_rows, deduplicated.
-#}
{% macro history_increment(live, legacy=none, key=[], order_by='landed_at desc, batch_id, row_no', where=none) -%}
staged as (

    {{ history_staged(live, legacy, where) }}

),

{% if is_incremental() -%}
loaded_batches as (

    select distinct batch_id
    from {{ this }}
    where landed_at > {{ landed_at_watermark() }}

),

{% endif -%}
new_rows as (

    select staged.*
    from staged
    {%- if is_incremental() %}
    where not exists (
        select 1 from loaded_batches where loaded_batches.batch_id = staged.batch_id
    )
    {%- endif %}

),

deduplicated as (

    -- one row per key even if two new batches share it
    select distinct on ({{ key | join(', ') }}) *
    from new_rows
    order by {{ key | join(', ') }}, {{ order_by }}

),
{%- endmacro %}

{#-
    A history whose rows are kept from their first landing: the first staged
    row of each `key` by `order_by`, unless the model already holds that key
    (`held_match`: the SQL condition on `held`, the model, and `first_rows`;
    default: every key column equal). CTEs staged, first_rows, new_rows.
-#}
{% macro history_first_rows(live, legacy=none, key=[], order_by='landed_at, batch_id, row_no', where=none, held_match=none) -%}
staged as (

    {{ history_staged(live, legacy, where) }}

),

first_rows as (

    -- one row per key among the new rows: the first wins
    select distinct on ({{ key | join(', ') }}) *
    from staged
    order by {{ key | join(', ') }}, {{ order_by }}

),

new_rows as (

    select first_rows.*
    from first_rows
    {%- if is_incremental() %}
    where not exists (
        select 1
        from {{ this }} as held
        where
        {%- if held_match %}
            {{ held_match }}
        {%- else %}
            {%- for column in key %}
            {% if not loop.first %}and {% endif %}held.{{ column }} = first_rows.{{ column }}
            {%- endfor %}
        {%- endif %}
    )
    {%- endif %}

),
{%- endmacro %}
