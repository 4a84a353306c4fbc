{#-
    The value of one query parameter of a URL (text), or null when the URL
    has no such parameter or its value does not match `value_pattern` (a
    POSIX regular expression without groups). No percent-decoding: use it for
    plain values (usernames, numbers, dates).
    url_param('request', 'username', '[A-Za-z0-9_]+')
-#}
{% macro url_param(url, name, value_pattern='[^&#]*') -%}
    substring({{ url }} from '[?&]{{ name }}=({{ value_pattern }})(&|#|$)')
{%- endmacro %}
