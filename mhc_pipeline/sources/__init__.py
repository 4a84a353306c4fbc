"""One module per source. `REPLAYABLE` maps a source name to its saved-response reader (`mhc land`)."""

from mhc_pipeline.sources import affiliate

REPLAYABLE = {
    "affiliate": affiliate.batch_from_file,
}
