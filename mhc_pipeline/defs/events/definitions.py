"""The Events API source's room: its spec, its landing job and its resource."""

from __future__ import annotations

import dagster as dg

from mhc_pipeline.defs.events import client
from mhc_pipeline.defs.spec import Replay, SourceSpec
from mhc_pipeline.scheduling import landing_job

SPEC = SourceSpec(
    name="events",
    raw_tables=(client.TABLE,),
    cadence={client.ASSET_KEY: 60},  # drain the owner's Events feed (the events-worker long-polls beside it)
    replay={"events": Replay(client.batch_from_file, before_land=client.before_replay)},
)

events_cycle = landing_job("events_cycle", [client.ASSET_KEY], "Drain the owner's Events API feed")


def defs() -> dg.Definitions:
    return dg.Definitions(assets=[client.events], jobs=[events_cycle],
                          resources={"events_api": client.resource_from_env()})
