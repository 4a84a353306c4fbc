{#- The fallback is a property of the field: every merge_rules row of a field must give the same one. -#}

select field, array_agg(distinct fallback) as fallbacks
from {{ ref('merge_rules') }}
group by field
having count(distinct fallback) > 1
