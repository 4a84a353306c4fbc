{#-
    Legacy persons (the MHC Control Panel's `persons`), one row per imported
    row. The legacy id is not ours: our person_id derives from the
    lower-cased username (person_id()), so a legacy person and the same
    username seen live are one person. The legacy role is evidence, not truth
    (the first writer decided it and it was never corrected): MODEL, VIEWER
    and BOTH become role evidence, UNKNOWN none; a StatBate room id (rid) is
    model evidence, a donor id (did) viewer evidence. persons folds it with
    every other source's evidence.
-#}

with

source as (

    select * from {{ source('raw', 'legacy_persons') }}

),

renamed as (

    select
        -- raw plumbing
        source.batch_id,
        source.row_no,
        source.landed_at,

        -- ids
        {{ person_id("'chaturbate'", "btrim(" ~ legacy_col('username') ~ ")") }} as person_id,
        {{ legacy_col('id') }} as legacy_id,
        lower(btrim({{ legacy_col('username') }})) as username,
        coalesce({{ empty_to_null(legacy_col('platform')) }}, 'chaturbate') as platform,

        -- role evidence
        upper({{ legacy_col('role') }}) as legacy_role,
        case
            when upper({{ legacy_col('role') }}) = 'BOTH'
                or ({{ legacy_col('rid') }} is not null and {{ legacy_col('did') }} is not null) then 'both'
            when upper({{ legacy_col('role') }}) = 'MODEL' and {{ legacy_col('did') }} is not null then 'both'
            when upper({{ legacy_col('role') }}) = 'VIEWER' and {{ legacy_col('rid') }} is not null then 'both'
            when upper({{ legacy_col('role') }}) = 'MODEL' or {{ legacy_col('rid') }} is not null then 'model'
            when upper({{ legacy_col('role') }}) = 'VIEWER' or {{ legacy_col('did') }} is not null then 'viewer'
        end as role,
        {{ try_cast(legacy_col('rid'), 'integer') }} as rid,
        {{ try_cast(legacy_col('did'), 'integer') }} as did,

        -- times (UTC)
        {{ legacy_time('first_seen_at') }} as first_seen_at,
        {{ legacy_time('last_seen_at') }} as last_seen_at,

        -- origin
        'legacy'::text as origin

    from source
    where {{ empty_to_null(legacy_col('username')) }} is not null

)

select
    -- null: a good row; else why it is set aside (stg_<source>__rejects lists it)
    {{ reject_reason([
        ("username is null or btrim(username) = ''", "'blank or missing username'")
    ]) }} as reject_reason,
    renamed.*
from renamed
