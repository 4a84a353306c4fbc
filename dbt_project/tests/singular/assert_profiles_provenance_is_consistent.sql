{#-
    For every profile field F of profiles (profile_fields()): F, F_source and
    F_observed_at are all set or all null, and nothing is observed after the
    build time.
-#}
{%- set fields = profile_fields() %}

with

profiles as (

    select * from {{ ref('profiles') }}

),

problems as (

    {%- for field in fields %}
    select person_id, '{{ field.name }}' as field
    from profiles
    where ({{ field.name }} is null) <> ({{ field.name }}_source is null)
        or ({{ field.name }}_source is null) <> ({{ field.name }}_observed_at is null)
        or {{ field.name }}_observed_at > profile_as_of
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

)

select * from problems
