"""The statbate source's settings: its rows of the settings table (mhc_pipeline.settings.SETTINGS)."""

from mhc_pipeline.setting import Setting, simulator_url

SETTINGS: list[Setting] = [
    Setting(
        "MHC_STATBATE_URL",
        simulator_url("/statbate/api"),
        "StatBate Plus (Premium) API base URL (model and member info and tips).",
        real="https://plus.statbate.com/api",
    ),
    Setting(
        "MHC_STATBATE_TOKEN",
        "",
        "StatBate Plus API token (`<id>|<random>`, created at https://plus.statbate.com/api/tokens; needs a Studio "
        "Plus subscription). Secret: sent as `Authorization: Bearer`, redacted everywhere.",
        kind="secret",
        source="statbate",
        sim_value="1|sim-statbate-token-0123456789abcdef",
    ),
    Setting("MHC_STATBATE_MAX_PER_MINUTE", "120",
            "Most StatBate requests per minute, across all processes (the API allows 120 per account)."),
    Setting("MHC_STATBATE_TIPS_DAYS", "30",
            "Days of tips fetched the first time a person's StatBate tips are asked for (later: since the last tip)."),
    Setting("MHC_STATBATE_MAX_MEMBERS", "500",
            "Most members (people who tipped in the owner's room, most recent first) asked about per daily run."),
]
