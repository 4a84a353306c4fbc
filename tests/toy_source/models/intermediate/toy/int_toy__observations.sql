with

snapshots as (

    select * from {{ ref('toy_snapshots') }}

),

final as (

    {{ unpivot_observations('snapshots', 'toy', ['followers']) }}

)

select * from final
