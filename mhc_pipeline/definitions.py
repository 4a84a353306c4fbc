"""The Dagster code location: every asset, job, schedule and resource of mhc-pipeline."""

from __future__ import annotations

import dagster as dg

from mhc_pipeline import settings
from mhc_pipeline.dbt import dbt_resource, mhc_dbt_models
from mhc_pipeline.resources import postgres_from_env
from mhc_pipeline.sources import affiliate

# Fill unset settings with their defaults (the simulator's credentials in simulator mode) so every
# EnvVar below resolves; a real source with a missing credential is reported when its run starts.
settings.load_dotenv()
settings.prepare_env(check=False)

landing_assets = [affiliate.affiliate_onlinerooms]

affiliate_cycle = dg.define_asset_job(
    "affiliate_cycle",
    selection=dg.AssetSelection.assets(affiliate.ASSET_KEY).downstream(),
    description="One Affiliate crawl, then the dbt models downstream of it.",
)
full_cycle = dg.define_asset_job(
    "full_cycle",
    selection=dg.AssetSelection.all(),
    description="One cycle of every source, then every dbt model (what `make demo` runs).",
)

dbt_build = dg.define_asset_job(
    "dbt_build",
    selection=dg.AssetSelection.assets(mhc_dbt_models),
    description="dbt build of every model (config: as_of, full_refresh); what `mhc build` runs.",
)

affiliate_schedule = dg.ScheduleDefinition(
    name="affiliate_every_5_minutes",
    job=affiliate_cycle,
    cron_schedule="*/5 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

defs = dg.Definitions(
    assets=[*landing_assets, mhc_dbt_models],
    jobs=[affiliate_cycle, full_cycle, dbt_build],
    schedules=[affiliate_schedule],
    resources={
        "postgres": postgres_from_env(),
        "affiliate": affiliate.resource_from_env(),
        "dbt": dbt_resource(),
    },
)
