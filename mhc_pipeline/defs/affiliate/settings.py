"""The affiliate source's settings: its rows of the settings table (mhc_pipeline.settings.SETTINGS)."""

from mhc_pipeline.setting import Setting, simulator_url

SETTINGS: list[Setting] = [
    Setting(
        "MHC_AFFILIATE_URL",
        simulator_url("/api/public/affiliates/onlinerooms/"),
        "Affiliate API online-rooms endpoint.",
        real="https://chaturbate.com/api/public/affiliates/onlinerooms/",
    ),
    Setting(
        "MHC_AFFILIATE_WM",
        "",
        "Affiliate campaign slug (`wm`), required by the real Affiliate API.",
        kind="credential",
        source="affiliate",
        sim_value="SIMWM",
    ),
    Setting(
        "MHC_AFFILIATE_CLIENT_IP",
        "request_ip",
        "`client_ip` sent to the Affiliate API (end-user IP, or `request_ip`). Never logged.",
    ),
    Setting("MHC_AFFILIATE_PAGE_SIZE", "500", "Rooms per Affiliate page (the API caps it at 500)."),
    Setting("MHC_AFFILIATE_MAX_PER_MINUTE", "120", "Most Affiliate requests per minute (0 = no limit)."),
]
