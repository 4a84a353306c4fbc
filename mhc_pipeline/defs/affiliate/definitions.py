"""The Affiliate source's room: its spec, its landing job and its resource (cadences: ../shared/design.md)."""

from __future__ import annotations

import dagster as dg

from mhc_pipeline.defs.affiliate import client
from mhc_pipeline.defs.spec import Replay, SourceSpec
from mhc_pipeline.scheduling import landing_job

SPEC = SourceSpec(
    name="affiliate",
    raw_tables=(client.TABLE,),
    cadence={client.ASSET_KEY: 300},  # the Affiliate crawl of every online room, every 5 minutes
    marts_with=client.ASSET_KEY,
    replay={"affiliate": Replay(client.batch_from_file)},
)

affiliate_cycle = landing_job("affiliate_cycle", [client.ASSET_KEY], "One Affiliate crawl")


def defs() -> dg.Definitions:
    return dg.Definitions(assets=[client.affiliate_onlinerooms], jobs=[affiliate_cycle],
                          resources={"affiliate": client.resource_from_env()})
