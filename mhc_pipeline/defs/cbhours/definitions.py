"""The CBHours source's room: its spec, its jobs and its resources (the CBHours API and which models are
tracked)."""

from __future__ import annotations

import dagster as dg

from mhc_pipeline.defs.cbhours import client
from mhc_pipeline.defs.spec import Replay, SourceSpec
from mhc_pipeline.scheduling import landing_job

SPEC = SourceSpec(
    name="cbhours",
    raw_tables=(client.LIVE_TABLE, client.ACTIVITY_TABLE),
    raw_columns={client.ACTIVITY_TABLE: client.ACTIVITY_COLUMNS},
    cadence={
        client.LIVE_KEY: 60,  # CBHours live stats: every minute
        client.ACTIVITY_KEY: 180,  # today's CBHours activity (3-minute segments) of the models online now
    },
    cycle_config={client.ACTIVITY_KEY: {"online_only": True}},
    on_demand=(client.ACTIVITY_KEY,),  # partitioned: backfills by day
    replay={
        "cbhours-live": Replay(client.live_batch_from_file),
        "cbhours-activity": Replay(client.activity_batch_from_file, username=True),
    },
)

cbhours_live_cycle = landing_job("cbhours_live_cycle", [client.LIVE_KEY], "One CBHours live cycle")
cbhours_activity_job = dg.define_asset_job(
    "cbhours_activity_job",
    selection=dg.AssetSelection.assets(client.ACTIVITY_KEY),
    partitions_def=client.ACTIVITY_PARTITIONS,
    description="CBHours activity for a partition (range): backfills (today's 3-minute refresh is part of "
                "cycle_every_minute).",
)


def defs() -> dg.Definitions:
    return dg.Definitions(assets=[client.cbhours_live, client.cbhours_activity],
                          jobs=[cbhours_live_cycle, cbhours_activity_job],
                          resources=client.resources_from_env())
