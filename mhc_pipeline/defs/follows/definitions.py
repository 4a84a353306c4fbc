"""The follow lists' room: its spec, its daily job and schedule, and its resource."""

from __future__ import annotations

import dagster as dg

from mhc_pipeline.defs.follows import client
from mhc_pipeline.defs.spec import SourceSpec
from mhc_pipeline.scheduling import landing_job, schedule

SPEC = SourceSpec(name="follows", raw_tables=(client.TABLE,))

follows_daily = landing_job(
    "follows_daily", [client.ASSET_KEY],
    "The owner's following and followers lists (only complete lists are diffed)")


def defs() -> dg.Definitions:
    return dg.Definitions(assets=[client.follow_lists], jobs=[follows_daily],
                          schedules=[schedule("follows_daily", follows_daily, "41 5 * * *")],
                          resources={"follows": client.resource_from_env()})
