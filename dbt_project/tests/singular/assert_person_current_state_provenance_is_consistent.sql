{#-
    For every merged field F of person_current_state: F_source and
    F_observed_at are both set or both null; a value with no source only
    happens for fields with an if_unknown default (is_online = false); a set
    source always comes with a value and is one of the field's merge_rules
    sources; nothing is observed after the last build's time (held rows of
    earlier builds included).
-#}
{%- set fields = merged_fields() %}

with

current_state as (

    select * from {{ ref('person_current_state') }}

),

build as (

    select as_of as state_as_of from {{ merge_build_relation(ref('person_current_state')) }}

),

merge_rules as (

    select * from {{ ref('merge_rules') }}

),

problems as (

    {%- for field in fields %}
    select id, '{{ field.name }}' as field
    from current_state
    cross join build
    where ({{ field.name }}_source is null) <> ({{ field.name }}_observed_at is null)
        or ({{ field.name }}_source is not null and {{ field.name }} is null)
        {%- if field.if_unknown is none %}
        or ({{ field.name }} is not null and {{ field.name }}_source is null)
        {%- endif %}
        or {{ field.name }}_observed_at > state_as_of
        or ({{ field.name }}_source is not null and not exists (
            select 1 from merge_rules
            where merge_rules.field = '{{ field.name }}' and merge_rules.source = current_state.{{ field.name }}_source))
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

)

select * from problems
