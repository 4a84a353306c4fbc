{#-
    StatBate's field observations, (person_id, field, source = 'statbate',
    value jsonb, observed_at, landed_at), from statbate_model_info (found
    answers only; observed_at = captured_at): gender (the StatBate integer as
    a code through gender_codes). merge_rules ranks StatBate last for gender
    (after Affiliate and CBHours), so it fills the gender of people never
    seen broadcasting by those two. StatBate's rank is its own ranking (not
    CBHours' rank) and is not observed as 'rank'. Empty values are dropped.
    A view: int_field_observations reads it with a landed_at filter.
-#}

with

model_info as (

    select * from {{ ref('statbate_model_info') }}
    where is_found

),

final as (

    {{ unpivot_observations('model_info', 'statbate', ['gender'], observed_at='captured_at') }}

)

select * from final
