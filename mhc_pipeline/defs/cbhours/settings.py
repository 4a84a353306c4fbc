"""The cbhours source's settings: its rows of the settings table (mhc_pipeline.settings.SETTINGS)."""

from mhc_pipeline.setting import Setting, simulator_url

SETTINGS: list[Setting] = [
    Setting(
        "MHC_CBHOURS_URL",
        simulator_url("/api.php"),
        "CBHours API endpoint (get_live, get_activity, get_months).",
        real="https://www.cbhours.com/api.php",
    ),
    Setting("MHC_CBHOURS_MAX_PER_MINUTE", "60", "Most CBHours requests per minute, across all processes (1/s)."),
    Setting("MHC_CBHOURS_ERROR300_RECHECK_HOURS", "24",
            "Hours before a model CBHours answered `Error Code:300` (not in its trophy database) is asked again."),
    Setting("MHC_WATCHLIST", "", "Comma-separated usernames always tracked by CBHours (and StatBate)."),
    Setting("MHC_TRACKED_MAX", "300", "Most models tracked (watch list, then following, then the owner's room)."),
]
