{#- Every field named in merge_rules must be a merged field (macros/merge_config.sql), or its rows would silently do nothing. -#}
{%- set names = merged_fields() | map(attribute='name') | list %}

select field, source
from {{ ref('merge_rules') }}
where field not in (
    {%- for name in names %}
    '{{ name }}'{% if not loop.last %},{% endif %}
    {%- endfor %}
)
