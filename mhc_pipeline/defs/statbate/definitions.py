"""The StatBate source's room: its spec, its daily and on-demand jobs, its schedule and its resource."""

from __future__ import annotations

from functools import partial

import dagster as dg

from mhc_pipeline.defs.spec import Replay, SourceSpec
from mhc_pipeline.defs.statbate import client, replay
from mhc_pipeline.scheduling import landing_job, schedule

SPEC = SourceSpec(
    name="statbate",
    raw_tables=tuple(client.TABLES),
    replay={
        "statbate-model-info": Replay(partial(replay.info_batch_from_file, kind="model"), username=True),
        "statbate-member-info": Replay(partial(replay.info_batch_from_file, kind="member"), username=True),
        "statbate-tips": Replay(replay.tips_batch_from_file, username=True),
    },
)

statbate_daily = landing_job(
    "statbate_daily", list(client.KEYS),
    "StatBate model info and tips of the tracked models, member info of the owner's tippers")
statbate_lookup = dg.define_asset_job(
    "statbate_lookup",
    selection=dg.AssetSelection.assets(*client.KEYS),
    description="StatBate on demand for one username (model and member side, with their tips); what "
                "`mhc statbate USERNAME` runs. Run config: ops: {statbate_landing: {config: {username: NAME}}}.",
)


def defs() -> dg.Definitions:
    return dg.Definitions(assets=[client.statbate_landing], jobs=[statbate_daily, statbate_lookup],
                          schedules=[schedule("statbate_daily", statbate_daily, "17 4 * * *")],
                          resources={"statbate": client.resource_from_env()})
