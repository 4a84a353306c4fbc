"""The follows source's settings: its rows of the settings table (mhc_pipeline.settings.SETTINGS)."""

from mhc_pipeline.setting import Setting, simulator_url

SETTINGS: list[Setting] = [
    Setting(
        "MHC_FOLLOWS_URL",
        simulator_url(""),
        "Base URL of the Chaturbate website for the owner's following / followers lists (the followed-rooms "
        "JSON endpoints and the followers page are appended).",
        real="https://chaturbate.com",
    ),
    Setting(
        "MHC_FOLLOWS_SESSIONID",
        "",
        "The owner's Chaturbate `sessionid` cookie (httpOnly: copy it from the browser's Network tab). Secret: "
        "sent only in the Cookie header, redacted everywhere. Not needed for `mhc import-follows`.",
        kind="secret",
        source="follows",
        sim_value="sim-cb-sessionid-0123456789abcdef",
    ),
    Setting(
        "MHC_FOLLOWS_CSRFTOKEN",
        "",
        "The owner's Chaturbate `csrftoken` cookie. Secret: sent only in the Cookie header, redacted everywhere.",
        kind="secret",
        source="follows",
        sim_value="sim-cb-csrftoken-0123456789",
    ),
    Setting("MHC_FOLLOWS_MAX_PER_MINUTE", "20",
            "Most requests per minute to the followed-rooms endpoints (internal website endpoints: go slow)."),
]
