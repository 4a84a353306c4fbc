"""The Dagster code location: every asset, job, schedule, sensor and resource of mhc-pipeline."""

from __future__ import annotations

from datetime import timezone

import dagster as dg

from mhc_pipeline import runs, settings
from mhc_pipeline.dbt import dbt_resource, mhc_dbt_models
from mhc_pipeline.resources import postgres_from_env
from mhc_pipeline.sources import affiliate, cbhours, events, follows, legacy, statbate, stats

# Fill unset settings with their defaults (the simulator's credentials in simulator mode) so every
# EnvVar below resolves; a real source with a missing credential is reported when its run starts.
settings.load_dotenv()
settings.prepare_env(check=False)

FOLLOWS = "(the dbt models follow through the dbt_follows_landing sensor)"


def _landing_job(name: str, keys: list[dg.AssetKey], what: str) -> dg.UnresolvedAssetJobDefinition:
    """A landing job runs only its landing asset(s): the dbt models downstream follow on their own."""
    return dg.define_asset_job(name, selection=dg.AssetSelection.assets(*keys), description=f"{what} {FOLLOWS}.")


IN_FLIGHT = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
             dg.DagsterRunStatus.STARTED]


def job_in_flight(instance: dg.DagsterInstance, job_name: str) -> bool:
    """A run of the job is queued or going: a new tick would only queue behind it (and, on a busy machine,
    pile up a backlog of stale runs); the run that is already there lands the newest data anyway."""
    return instance.get_runs_count(filters=dg.RunsFilter(job_name=job_name, statuses=IN_FLIGHT)) > 0


def _schedule(name: str, job, cron: str) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(name=name, job=job, cron_schedule=cron, execution_timezone="UTC",
                                 default_status=dg.DefaultScheduleStatus.RUNNING,
                                 should_execute=lambda context: not job_in_flight(context.instance, job.name))


# ---------------------------------------------------------------------------------------------------
# Landing jobs and their schedules, one per source (cadences: ../shared/design.md)
affiliate_cycle = _landing_job("affiliate_cycle", [affiliate.ASSET_KEY], "One Affiliate crawl")
cbhours_live_cycle = _landing_job("cbhours_live_cycle", [cbhours.LIVE_KEY], "One CBHours live cycle")
events_cycle = _landing_job("events_cycle", [events.ASSET_KEY], "Drain the owner's Events API feed")
stats_cycle = _landing_job("stats_cycle", [stats.ASSET_KEY], "One Stats API snapshot of the owner")
statbate_daily = _landing_job(
    "statbate_daily", list(statbate.KEYS),
    "StatBate model info and tips of the tracked models, member info of the owner's tippers")
follows_daily = _landing_job(
    "follows_daily", [follows.ASSET_KEY],
    "The owner's following and followers lists (only complete lists are diffed)")
cbhours_activity_job = dg.define_asset_job(
    "cbhours_activity_job",
    selection=dg.AssetSelection.assets(cbhours.ACTIVITY_KEY),
    partitions_def=cbhours.ACTIVITY_PARTITIONS,
    description="CBHours activity for a partition (range): backfills and today's 3-minute refresh.",
)



def _landing_and_build_job(name: str, keys: list[dg.AssetKey], what: str) -> dg.UnresolvedAssetJobDefinition:
    """The scheduled cycles land their sources and rebuild the dbt models downstream in the same run.

    Every run is a fresh process that imports the code location (~5 CPU-s before any work): a landing
    run followed by a sensor-launched dbt run paid that twice a minute. Sources on the same cadence share
    the run, each its own step: one failing marks the run failed and names its step, the other still
    lands, and the dbt step (skipped when a landing step failed) is then left to the
    dbt_follows_landing sensor, which rebuilds whatever a landing changed and no run rebuilt. Models only:
    the data tests keep their own 5-minute cadence (dbt.CHECKS_EVERY_5_MINUTES)."""
    landing = dg.AssetSelection.assets(*keys)
    models = landing.downstream() & dg.AssetSelection.assets(mhc_dbt_models)
    return dg.define_asset_job(name, selection=(landing | models).without_checks(),
                               description=f"{what}, then the dbt models downstream of them (models only; "
                                           "the data tests run every 5 minutes on their own).")


landing_every_minute = _landing_and_build_job(
    "landing_every_minute", [cbhours.LIVE_KEY, events.ASSET_KEY],
    "One CBHours live cycle and one drain of the owner's Events API feed")
landing_every_5_minutes = _landing_and_build_job(
    "landing_every_5_minutes", [affiliate.ASSET_KEY, stats.ASSET_KEY],
    "One Affiliate crawl and one Stats API snapshot of the owner")

schedules = [
    _schedule("landing_every_minute", landing_every_minute, "* * * * *"),
    _schedule("landing_every_5_minutes", landing_every_5_minutes, "*/5 * * * *"),
    _schedule("statbate_daily", statbate_daily, "17 4 * * *"),
    _schedule("follows_daily", follows_daily, "41 5 * * *"),
]


@dg.schedule(
    name="cbhours_activity_today_every_3_minutes",
    job=cbhours_activity_job,
    cron_schedule="*/3 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def cbhours_activity_today(context: dg.ScheduleEvaluationContext):
    """Today's activity partition, for the models online now (per the latest CBHours live cycle)."""
    if job_in_flight(context.instance, cbhours_activity_job.name):
        return dg.SkipReason("the previous activity run is still queued or going")
    day = context.scheduled_execution_time.astimezone(timezone.utc).date()
    return dg.RunRequest(
        run_key=None,
        partition_key=day.isoformat(),
        run_config={"ops": {"raw__cbhours_activity": {"config": {"online_only": True}}}},
    )


# ---------------------------------------------------------------------------------------------------
# On-demand and whole-pipeline jobs
statbate_lookup = dg.define_asset_job(
    "statbate_lookup",
    selection=dg.AssetSelection.assets(*statbate.KEYS),
    description="StatBate on demand for one username (model and member side, with their tips); what "
                "`mhc statbate USERNAME` runs. Run config: ops: {statbate_landing: {config: {username: NAME}}}.",
)
legacy_import = dg.define_asset_job(
    "legacy_import",
    selection=dg.AssetSelection.assets(*legacy.KEYS),
    description="Import the legacy MHC Control Panel database (MHC_LEGACY_DATABASE_URL, read-only) from each "
                f"table's high-water mark; what `mhc import-legacy` does {FOLLOWS}.",
)
full_cycle = dg.define_asset_job(
    "full_cycle",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(cbhours.ACTIVITY_KEY, *legacy.KEYS),
    description="One cycle of every unpartitioned source, then every dbt model (what `make demo` runs).",
)
dbt_build = dg.define_asset_job(
    "dbt_build",
    selection=dg.AssetSelection.assets(mhc_dbt_models),
    description="dbt build of every model (config: as_of, full_refresh); what `mhc build` runs.",
)
dbt_checks_history = dg.define_asset_job(
    "dbt_checks_history",
    selection=dg.AssetSelection.checks_for_assets(mhc_dbt_models),
    config={"ops": {"mhc_dbt_models": {"config": {"checks": "history"}}}},
    description="Every dbt data test over ALL rows (the builds that follow landings test only the rows the "
                "latest landings added); results show as the models' asset checks. Daily, and on demand.",
)
schedules.append(_schedule("dbt_checks_history_daily", dbt_checks_history, "23 3 * * *"))

# The dbt models follow new landed data without anyone clicking: every 30 s this sensor evaluates the
# models' automation condition (dbt.FOLLOW_LANDING) and launches one dbt run for the models whose
# upstream changed and that no run rebuilt since: after the activity refresh, the daily sources, a
# manual `mhc land`, or a scheduled cycle whose dbt step was skipped because one of its landings failed
# (the every-minute and 5-minute cycles rebuild their own models in their run). It never requests a
# model that a run is building, so a slow build delays the merged state by at most one build instead
# of piling up a queue of builds. It also runs the data tests, every 5 minutes.
dbt_follows_landing = dg.AutomationConditionSensorDefinition(
    "dbt_follows_landing",
    target=dg.AssetSelection.assets(mhc_dbt_models),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Rebuilds the dbt models downstream of newly landed data (one run at a time).",
)

# written by the loader for every source (not by one landing asset): its own node in the graph
batch_ledger = dg.AssetSpec(
    key=dg.AssetKey(["raw", "batches"]),
    group_name="landing_loader",
    kinds={"postgres"},
    owners=["team:mhc-pipeline"],
    description="The loader's batch ledger `raw.batches`: one row per landed batch (source, table, fetch time, "
                "rows, quarantined), written in the same transaction as the batch's rows by every landing asset; "
                "a batch id that is already there is never landed twice. The freshness and coverage marts read it.",
)

landing_assets = [affiliate.affiliate_onlinerooms, cbhours.cbhours_live, events.events, stats.stats_api,
                  statbate.statbate_landing, follows.follow_lists]

defs = dg.Definitions(
    assets=[*landing_assets, cbhours.cbhours_activity, legacy.legacy_landing, batch_ledger, mhc_dbt_models],
    jobs=[landing_every_minute, landing_every_5_minutes, affiliate_cycle, cbhours_live_cycle, events_cycle,
          stats_cycle, statbate_daily, follows_daily, cbhours_activity_job, statbate_lookup, legacy_import,
          full_cycle, dbt_build, dbt_checks_history],
    # every job runs its steps in the run's own process: a second process per step would import the
    # code location again (~4 CPU-s each) for steps that mostly wait on HTTP or on dbt
    executor=dg.in_process_executor,
    schedules=[*schedules, cbhours_activity_today],
    sensors=[dbt_follows_landing, runs.dead_run_watchdog],
    resources={
        "postgres": postgres_from_env(),
        "affiliate": affiliate.resource_from_env(),
        **cbhours.resources_from_env(),
        "events_api": events.resource_from_env(),
        "stats": stats.resource_from_env(),
        "statbate": statbate.resource_from_env(),
        "follows": follows.resource_from_env(),
        "legacy": legacy.resource_from_env(),
        "dbt": dbt_resource(),
    },
)
