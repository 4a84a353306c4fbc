"""One module per source.

`RAW_TABLES`: every raw landing table (dbt reads them all, so they exist before the first dbt build).
`REPLAYABLE`: a source name -> its saved-response reader (`mhc land`).
"""

from mhc_pipeline.sources import affiliate, cbhours, events, follows, legacy, statbate, stats

RAW_TABLES = [affiliate.TABLE, cbhours.LIVE_TABLE, cbhours.ACTIVITY_TABLE, events.TABLE, stats.TABLE,
              *statbate.TABLES, follows.TABLE, *legacy.RAW_TABLES]

REPLAYABLE = {
    "affiliate": affiliate.batch_from_file,
}
