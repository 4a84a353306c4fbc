{#-
    The legacy MHC Control Panel rows set aside at staging, with the reason (see macros/rejects.sql):
    they never reach the history tables, persons or the merged state, and a
    build never stops for them. Its check no_rows_set_aside warns with the
    count and the reasons.
-#}
{{ rejects_of('legacy', [
    ('stg_legacy__persons', 'username'),
    ('stg_legacy__profiles', 'username'),
    ('stg_legacy__affiliate', 'username'),
    ('stg_legacy__cbhours_live_stats', 'username'),
    ('stg_legacy__cbhours_activity', 'username'),
    ('stg_legacy__interactions', 'username'),
    ('stg_legacy__statbate_model_info', 'username'),
    ('stg_legacy__statbate_member_info', 'username')
]) }}
