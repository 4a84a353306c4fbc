"""The Dagster code location: every asset, job, schedule and resource of mhc-pipeline."""

from __future__ import annotations

from datetime import timezone

import dagster as dg

from mhc_pipeline import settings
from mhc_pipeline.dbt import dbt_resource, mhc_dbt_models
from mhc_pipeline.resources import postgres_from_env
from mhc_pipeline.sources import affiliate, cbhours, events

# Fill unset settings with their defaults (the simulator's credentials in simulator mode) so every
# EnvVar below resolves; a real source with a missing credential is reported when its run starts.
settings.load_dotenv()
settings.prepare_env(check=False)

landing_assets = [affiliate.affiliate_onlinerooms, cbhours.cbhours_live, events.events]

affiliate_cycle = dg.define_asset_job(
    "affiliate_cycle",
    selection=dg.AssetSelection.assets(affiliate.ASSET_KEY),
    description="One Affiliate crawl (the dbt models follow through the dbt_follows_landing sensor).",
)
cbhours_live_cycle = dg.define_asset_job(
    "cbhours_live_cycle",
    selection=dg.AssetSelection.assets(cbhours.LIVE_KEY),
    description="One CBHours live cycle (the dbt models follow through the dbt_follows_landing sensor).",
)
events_cycle = dg.define_asset_job(
    "events_cycle",
    selection=dg.AssetSelection.assets(events.ASSET_KEY),
    description="Drain the owner's Events API feed (the dbt models follow through the dbt_follows_landing sensor).",
)
cbhours_activity_job = dg.define_asset_job(
    "cbhours_activity_job",
    selection=dg.AssetSelection.assets(cbhours.ACTIVITY_KEY),
    partitions_def=cbhours.ACTIVITY_PARTITIONS,
    description="CBHours activity for a partition (range): backfills and today's 3-minute refresh.",
)
full_cycle = dg.define_asset_job(
    "full_cycle",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(cbhours.ACTIVITY_KEY),
    description="One cycle of every unpartitioned source, then every dbt model (what `make demo` runs).",
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

cbhours_live_schedule = dg.ScheduleDefinition(
    name="cbhours_live_every_minute",
    job=cbhours_live_cycle,
    cron_schedule="* * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
events_schedule = dg.ScheduleDefinition(
    name="events_every_minute",
    job=events_cycle,
    cron_schedule="* * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


@dg.schedule(
    name="cbhours_activity_today_every_3_minutes",
    job=cbhours_activity_job,
    cron_schedule="*/3 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def cbhours_activity_today(context: dg.ScheduleEvaluationContext):
    """Today's activity partition, for the models online now (per the latest CBHours live cycle)."""
    day = context.scheduled_execution_time.astimezone(timezone.utc).date()
    return dg.RunRequest(
        run_key=None,
        partition_key=day.isoformat(),
        run_config={"ops": {"raw__cbhours_activity": {"config": {"online_only": True}}}},
    )


# The dbt models follow new landed data without anyone clicking: every 30 s this sensor evaluates the
# models' automation condition (dbt.FOLLOW_LANDING) and launches one dbt run for the models whose
# upstream changed. The landing schedules run only the landing assets, so a slow dbt build delays the
# merged state by at most one build instead of piling up a queue of builds.
dbt_follows_landing = dg.AutomationConditionSensorDefinition(
    "dbt_follows_landing",
    target=dg.AssetSelection.assets(mhc_dbt_models),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Rebuilds the dbt models downstream of newly landed data (one run at a time).",
)

defs = dg.Definitions(
    assets=[*landing_assets, cbhours.cbhours_activity, mhc_dbt_models],
    jobs=[affiliate_cycle, cbhours_live_cycle, events_cycle, cbhours_activity_job, full_cycle, dbt_build],
    schedules=[affiliate_schedule, cbhours_live_schedule, events_schedule, cbhours_activity_today],
    sensors=[dbt_follows_landing],
    resources={
        "postgres": postgres_from_env(),
        "affiliate": affiliate.resource_from_env(),
        **cbhours.resources_from_env(),
        "events_api": events.resource_from_env(),
        "dbt": dbt_resource(),
    },
)
