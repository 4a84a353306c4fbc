"""The stats source's settings: its rows of the settings table (mhc_pipeline.settings.SETTINGS)."""

from mhc_pipeline.setting import Setting, simulator_url

SETTINGS: list[Setting] = [
    Setting(
        "MHC_STATS_URL",
        simulator_url("/statsapi/"),
        "Chaturbate Stats API endpoint (the owner's own statistics; username and token are query parameters).",
        real="https://chaturbate.com/statsapi/",
    ),
    Setting(
        "MHC_STATS_TOKEN",
        "",
        "Stats API token (24 characters, from https://chaturbate.com/statsapi/authtoken/). Secret: it sits in "
        "the query string and is redacted everywhere.",
        kind="secret",
        source="stats",
        sim_value="sim-stats-token-01234567",
    ),
    Setting("MHC_STATS_MAX_PER_MINUTE", "2",
            "Most Stats API requests per minute, across all processes (the data refreshes every 5 minutes)."),
    Setting("MHC_STATS_BACKOFF_MINUTES", "60",
            "Minutes the Stats API is left alone after it answered `403 Try slowing down a little.`"),
]
