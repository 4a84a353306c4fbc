{#-
    The follow list entries set aside at staging, with the reason (see macros/rejects.sql):
    they never reach the history tables, persons or the merged state, and a
    build never stops for them. Its check no_rows_set_aside warns with the
    count and the reasons.
-#}
{{ rejects_of('follows', [
    ('stg_follows__entries', 'username', 'null::integer')
]) }}
