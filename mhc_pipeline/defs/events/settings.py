"""The events source's settings: its rows of the settings table (mhc_pipeline.settings.SETTINGS)."""

from mhc_pipeline.setting import Setting, simulator_url

SETTINGS: list[Setting] = [
    Setting(
        "MHC_EVENTS_URL",
        simulator_url("/events/"),
        "Events API base URL (the owner's username and the token are appended).",
        real="https://eventsapi.chaturbate.com/events/",
    ),
    Setting(
        "MHC_EVENTS_TOKEN",
        "",
        "Events API token (scope 'Events API', from https://chaturbate.com/statsapi/authtoken/). Secret: it "
        "sits in the URL path and is redacted everywhere.",
        kind="secret",
        source="events",
        sim_value="sim-events-token-0123456789",
    ),
    Setting("MHC_EVENTS_MAX_PER_MINUTE", "1000", "Most Events API requests per minute (the API allows 2000)."),
]
