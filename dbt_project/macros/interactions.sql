{#-
    The content of an interaction that carries no message text: a fixed
    label per type, as the original system wrote it ("Tipped N tokens",
    "Followed", "Entered room", ...). Arguments are SQL expressions.
-#}
{% macro interaction_label(type, tokens, method) -%}
    coalesce(
        case {{ type }}
            when 'CHAT_MESSAGE' then 'Chat message'
            when 'PRIVATE_MESSAGE' then 'Private message'
            when 'DIRECT_MESSAGE' then 'Direct message'
            when 'TIP_EVENT' then coalesce('Tipped ' || {{ tokens }} || ' tokens', 'Tipped')
            when 'FOLLOW' then 'Followed'
            when 'UNFOLLOW' then 'Unfollowed'
            when 'USER_ENTER' then 'Entered room'
            when 'USER_LEAVE' then 'Left room'
            when 'FANCLUB_JOIN' then 'Joined fan club'
            when 'MEDIA_PURCHASE' then 'Purchased media'
            when 'BROADCAST_START' then 'Broadcast started'
            when 'BROADCAST_STOP' then 'Broadcast stopped'
            when 'ROOM_SUBJECT_CHANGE' then 'Room subject changed'
        end,
        coalesce({{ method }}, 'unknown') || ' event'
    )
{%- endmacro %}
