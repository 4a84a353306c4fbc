"""The legacy source's settings: its rows of the settings table (mhc_pipeline.settings.SETTINGS)."""

from mhc_pipeline.setting import Setting

SETTINGS: list[Setting] = [
    Setting("MHC_LEGACY_DATABASE_URL", "",
            "URL of the legacy MHC Control Panel database (postgresql://user:pass@host:5432/db) that "
            "`mhc import-legacy` and the `legacy_import` job read, read-only. Its password is redacted everywhere."),
    Setting("MHC_LEGACY_TIMEZONE", "America/New_York",
            "Zone the legacy `timestamp without time zone` columns were written in (its containers ran with "
            "TZ=America/New_York); the import converts them to UTC. Not `cbhours_activity.timestamp`: the "
            "original asked CBHours for UTC and stored its string as it came, so it is read as UTC."),
    Setting("MHC_LEGACY_OVERLAP_MINUTES", "120",
            "How far behind each table's high-water mark `mhc import-legacy` reads again, in minutes: legacy rows "
            "committed late (a time below the mark) and the repeated hour of a DST change. Rows read again that "
            "are held unchanged are skipped, so a wider window costs reading, never a double."),
]
