{#-
    The StatBate answers and tips set aside at staging, with the reason (see macros/rejects.sql):
    they never reach the history tables, persons or the merged state, and a
    build never stops for them. Its check no_rows_set_aside warns with the
    count and the reasons. A 404 answer ("Model not found") is not set
    aside: it is a fact kept in the StatBate history (is_found false, with
    its error_message), and it makes no person.
-#}
{{ rejects_of('statbate', [
    ('stg_statbate__model_info', 'username'),
    ('stg_statbate__member_info', 'username'),
    ('stg_statbate__tips', 'coalesce(member_username, model_username)')
]) }}
