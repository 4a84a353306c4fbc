{#-
    Deterministic person id: the RFC 4122 version-3 (MD5) UUID of
    "<platform>:<lower(username)>" in the URL namespace, exactly equal to
    Python's

        uuid.uuid3(uuid.UUID('6ba7b811-9dad-11d1-80b4-00c04fd430c8'),
                   platform + ':' + username.lower())

    so a rebuild (or the Python side) always gives the same id.
    md5(namespace bytes || utf-8 name) -> set the version nibble (hex digit 13)
    to 3 and the variant bits of hex digit 17 to 10xx.
    Both arguments are SQL expressions, e.g. person_id("'chaturbate'", 'username').
-#}
{% macro person_id(platform, username) -%}
    {%- set digest -%}
        md5(decode('6ba7b8119dad11d180b400c04fd430c8', 'hex') || convert_to({{ platform }} || ':' || lower({{ username }}), 'UTF8'))
    {%- endset -%}
    (overlay(overlay({{ digest }} placing '3' from 13) placing substr('89ab', (('x' || substr({{ digest }}, 17, 1))::bit(4)::int & 3) + 1, 1) from 17))::uuid
{%- endmacro %}
