"""The Stats API source's room: its spec, its landing job and its resource."""

from __future__ import annotations

import dagster as dg

from mhc_pipeline.defs.spec import Replay, SourceSpec
from mhc_pipeline.defs.stats import client
from mhc_pipeline.scheduling import landing_job

SPEC = SourceSpec(
    name="stats",
    raw_tables=(client.TABLE,),
    cadence={client.ASSET_KEY: 300},  # the owner's Stats API snapshot, every 5 minutes
    replay={"stats": Replay(client.batch_from_file)},
)

stats_cycle = landing_job("stats_cycle", [client.ASSET_KEY], "One Stats API snapshot of the owner")


def defs() -> dg.Definitions:
    return dg.Definitions(assets=[client.stats_api], jobs=[stats_cycle],
                          resources={"stats": client.resource_from_env()})
