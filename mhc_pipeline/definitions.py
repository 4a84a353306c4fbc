"""The Dagster code location: every asset, job, schedule, sensor and resource of mhc-pipeline."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from mhc_pipeline import alerts, dbt, runs, settings
from mhc_pipeline.dbt import dbt_resource, mhc_dbt_models
from mhc_pipeline.resources import postgres_from_env, setting
from mhc_pipeline.scheduling import job_in_flight, schedule
from mhc_pipeline.sources import SOURCES, SPECS

# Importing this module reads the settings and never writes them: a resource field is `dg.EnvVar` when its
# variable is set (every `mhc` command sets them all before Dagster starts) and the setting's default
# otherwise (resources.setting). It never runs dbt: the entry points prepare the manifest
# (dbt_project.ensure_manifest), and the partitions are the same on any day.

# A deployment (MHC_ENV=production, or a database other than the embedded one) started without `mhc` (a
# code server of its own) fails to load here, naming each source URL left at its simulator default, rather
# than at the first run with "connection refused" (`mhc` commands check the same before Dagster starts)
settings.check_deployment()

# Every source's room (mhc_pipeline/defs/<source>/): its assets, jobs, schedules and resources
SOURCE_DEFS = [module.defs() for module in SOURCES.values()]
_LANDING_ASSETS = [a for d in SOURCE_DEFS for a in d.assets or () if isinstance(a, dg.AssetsDefinition)]


# ---------------------------------------------------------------------------------------------------
# The pipeline's heartbeat: one run a minute lands every frequent source that is due and rebuilds the dbt
# models downstream of what it landed, in the same run.
#
# Every run is a fresh process that imports the code location (~5 CPU-s before any work), and every dbt
# invocation starts at ~3.5 CPU-s: a run per source and cadence, each followed by a sensor-launched dbt
# run (and the data tests in runs of their own), was ~12 runs and ~10 dbt invocations per 5 minutes.
# Now it is 5 and 5, and a minute's build is the incremental models only (no views, no whole-table
# marts). A source is due when its newest landing is older than its cadence (less 30 s of slack for the
# run's own start-up), so a tick skipped while the previous run was still going, a source that failed, or
# a restart is caught up at the next tick, and nothing queues. Each source is its own step: one failing
# marks the run failed and names its step, the others still land; the run's dbt step is then skipped, and
# the dbt_follows_landing sensor rebuilds what the landings changed.
#
# Each source's spec names its cadences (mhc_pipeline/defs/<source>/definitions.py).
CADENCE_SECONDS: dict[dg.AssetKey, int] = {
    key: every for spec in SPECS for key, every in spec.cadence.items()}
SLACK_SECONDS = 30
# the 5-minute source with which the marts tagged `every_5_minutes` (dbt.EVERY_5_MINUTES) are rebuilt
[MARTS_WITH] = [spec.marts_with for spec in SPECS if spec.marts_with is not None]
# the op config of a landing when the cycle lands it; a daily-partitioned landing lands the tick's day
CYCLE_CONFIG = {key: config for spec in SPECS for key, config in spec.cycle_config.items()}
# (a run has one partition key: the cycle's partitioned landings share one partitions definition)
[CYCLE_PARTITIONS] = {a.partitions_def for a in _LANDING_ASSETS
                      if a.partitions_def and set(a.keys) & set(CADENCE_SECONDS)}
_OP_NAMES = {key: a.node_def.name for a in _LANDING_ASSETS for key in a.keys}
PARTITIONED = frozenset(k for a in _LANDING_ASSETS if a.partitions_def for k in a.keys)
# the data tests (every dbt test is an asset check of its model) run every 15 minutes, over the rows landed
# in the last `checks_window_minutes` (20, dbt_project.yml): every landed row is tested within ~15 minutes
# (257 tests cost ~25 s of a 2-core machine: every 5 minutes they were the largest share of its CPU)
CHECKS_EVERY_SECONDS = 900
CHECKS_TAG = "mhc/checks"


def _downstream_models() -> dict[dg.AssetKey, frozenset[dg.AssetKey]]:
    """Every dbt model downstream of each landing table (from the dbt assets' own dependencies)."""
    children: dict[dg.AssetKey, set[dg.AssetKey]] = {}
    for spec in mhc_dbt_models.specs:
        for dep in spec.deps:
            children.setdefault(dep.asset_key, set()).add(spec.key)
    out = {}
    for key in CADENCE_SECONDS:
        seen, stack = set(), [key]
        while stack:
            for child in children.get(stack.pop(), ()):
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        out[key] = frozenset(seen)
    return out


DOWNSTREAM_MODELS = _downstream_models()
# the models a cycle does not rebuild after every landing: the views (rebuilt when their SQL changes) and the
# marts tagged every_5_minutes (with MARTS_WITH); see dbt.py
VIEW_MODELS = dbt.TRANSLATOR.view_keys
EVERY_5_MINUTES_MODELS = frozenset(s.key for s in mhc_dbt_models.specs if dbt.EVERY_5_MINUTES in s.tags)
DBT_CHECK_KEYS = sorted(mhc_dbt_models.check_keys, key=lambda k: k.to_user_string())
# a landing's own checks (e.g. the Stats API throttling us) run whenever it lands
LANDING_CHECK_KEYS = {key: sorted(asset.check_keys, key=lambda k: k.to_user_string())
                      for asset in _LANDING_ASSETS for key in asset.keys if key in CADENCE_SECONDS}

cycle_every_minute = dg.define_asset_job(
    "cycle_every_minute",
    selection=dg.AssetSelection.assets(*CADENCE_SECONDS, *set().union(*DOWNSTREAM_MODELS.values()))
    | dg.AssetSelection.checks_for_assets(mhc_dbt_models, *CADENCE_SECONDS),
    partitions_def=CYCLE_PARTITIONS,
    description="The every-minute cycle: CBHours live and the Events feed every minute, today's CBHours activity "
                "every 3 minutes, the Affiliate crawl and the owner's Stats every 5 minutes (each when due), "
                "then the dbt models downstream of what landed (views only when their SQL changes; the every_5_minutes "
                "marts with the Affiliate crawl); the data tests every 15 minutes. Launched by its "
                "schedule with the due sources; launched by hand, it runs everything.",
)


def due_sources(instance: dg.DagsterInstance, now: datetime) -> list[dg.AssetKey]:
    """The sources whose newest landing is at least their cadence (less the slack) old, or missing, and
    that are not backing off (backing_off_until). A landing counts from the minute it happened in, the
    tick of the run that landed it: a run that landed CBHours 40 s after its tick (behind the 5-minute
    sources and the data tests) left it 20 s old at the next tick, which skipped it ("no source is due")
    and held the merged state back two minutes (the soak of 703d24c: 5 such skips in an hour)."""
    records = {r.asset_entry.asset_key: r for r in instance.get_asset_records(list(CADENCE_SECONDS))}
    due = []
    for key, every in CADENCE_SECONDS.items():
        record = records.get(key)
        last = record.asset_entry.last_materialization if record else None
        if last is None or now.timestamp() - (last.timestamp // 60 * 60) >= every - SLACK_SECONDS:
            until = backing_off_until(instance, key, last.timestamp if last else None)
            if until is None or until <= now:
                due.append(key)
    return due


def backing_off_until(instance: dg.DagsterInstance, key: dg.AssetKey, landed: float | None) -> datetime | None:
    """When a source that asked us to slow down may be asked again: the `backoff_until` of its newest
    observation, when that is newer than its newest landing (the Stats API's throttle: its asset observes
    instead of landing). A cycle must not select such a source: a landing that yields nothing makes
    Dagster skip the run's dbt step, so every cycle of the back-off (an hour) would build nothing."""
    [observation] = instance.fetch_observations(key, limit=1).records or [None]
    if observation is None or (landed is not None and observation.timestamp <= landed):
        return None
    value = (observation.asset_observation.metadata.get("backoff_until") if observation.asset_observation else None)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value.value))
    except ValueError:
        return None


def checks_due(instance: dg.DagsterInstance, now: datetime) -> bool:
    """No cycle that ran the data tests was created in the last CHECKS_EVERY_SECONDS (less the slack)."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(job_name=cycle_every_minute.name, tags={CHECKS_TAG: "recent"}), limit=1)
    created = records[0].create_timestamp.timestamp() // 60 * 60 if records else None  # its tick (due_sources)
    return created is None or now.timestamp() - created >= CHECKS_EVERY_SECONDS - SLACK_SECONDS


@dg.schedule(
    name="cycle_every_minute",
    job=cycle_every_minute,
    cron_schedule="* * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def cycle_every_minute_schedule(context: dg.ScheduleEvaluationContext):
    """Land the sources that are due, then rebuild the models downstream of them (see CADENCE_SECONDS)."""
    if job_in_flight(context.instance, cycle_every_minute.name):
        return dg.SkipReason("the previous cycle is still queued or going; the next tick lands what is due")
    now = context.scheduled_execution_time.astimezone(UTC)
    due = due_sources(context.instance, now)
    if not due:
        return dg.SkipReason("no source is due")
    return cycle_request(due, now, checks=checks_due(context.instance, now))


def cycle_request(due: list[dg.AssetKey], now: datetime, checks: bool) -> dg.RunRequest:
    """The cycle's run: the due sources, the tables downstream of them (the every_5_minutes marts with
    MARTS_WITH), their own checks, and every data test when `checks`."""
    models = set().union(*(DOWNSTREAM_MODELS[key] for key in due)) - VIEW_MODELS
    if MARTS_WITH not in due:
        models -= EVERY_5_MINUTES_MODELS
    ops = {_OP_NAMES[key]: {"config": CYCLE_CONFIG[key]} for key in due if key in CYCLE_CONFIG}
    run_config: dict = {"ops": ops} if ops else {}
    partition_key = now.date().isoformat() if PARTITIONED & set(due) else None
    tags = {"mhc/due": ",".join(k.path[-1] for k in due)}
    if checks:
        tags[CHECKS_TAG] = "recent"
    return dg.RunRequest(
        asset_selection=[*due, *sorted(models, key=lambda k: k.to_user_string())],
        asset_check_keys=[*(k for key in due for k in LANDING_CHECK_KEYS[key]), *(DBT_CHECK_KEYS if checks else [])],
        partition_key=partition_key,
        run_config=run_config,
        tags=tags,
    )


schedules = [cycle_every_minute_schedule]


# ---------------------------------------------------------------------------------------------------
# Whole-pipeline jobs
full_cycle = dg.define_asset_job(
    "full_cycle",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(*(k for spec in SPECS for k in spec.on_demand)),
    description="One cycle of every unpartitioned source, then every dbt model (what `make demo` runs).",
)
dbt_build = dg.define_asset_job(
    "dbt_build",
    selection=dg.AssetSelection.assets(mhc_dbt_models),
    description="dbt build of every model (config: full_refresh; as_of pins the clock of a replayed world, "
                "never the past of a live product: that is job dbt_as_of); what `mhc build` runs.",
)
dbt_checks_history = dg.define_asset_job(
    "dbt_checks_history",
    selection=dg.AssetSelection.checks_for_assets(mhc_dbt_models),
    config={"ops": {"mhc_dbt_models": {"config": {"checks": "history"}}}},
    description="Every dbt data test over ALL rows (the builds that follow landings test only the rows the "
                "latest landings added); results show as the models' asset checks. Daily, and on demand.",
)
schedules.append(schedule("dbt_checks_history_daily", dbt_checks_history, "23 3 * * *"))

# The dbt models follow new landed data without anyone clicking. The every-minute cycle rebuilds the
# models downstream of what it landed in its own run; every 30 s this sensor evaluates the models'
# automation condition (dbt.FOLLOW_LANDING) and launches one dbt run for the models whose upstream changed
# and that no run rebuilt since: after the daily sources, an activity backfill, a manual `mhc land`, or a
# cycle whose dbt step was skipped because one of its landings failed. It never requests a model that a
# run is building, so a slow build delays the merged state by at most one build instead of piling up a
# queue of builds.
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

def shared_defs() -> dg.Definitions:
    """What no one source owns: the loader's ledger, the dbt models, the cycle and whole-pipeline jobs, the
    sensors, and the resources every source uses (a function: the code location has one module-level
    Definitions, `defs`)."""
    return dg.Definitions(
        assets=[batch_ledger, mhc_dbt_models],
        jobs=[cycle_every_minute, full_cycle, dbt_build, dbt_checks_history, dbt.dbt_as_of],
        # every job runs its steps in the run's own process: a second process per step would import the
        # code location again (~4 CPU-s each) for steps that mostly wait on HTTP or on dbt
        executor=dg.in_process_executor,
        schedules=schedules,
        sensors=[dbt_follows_landing, runs.dead_run_watchdog, alerts.alert_on_run_failure,
                 alerts.alert_on_check_failure],
        resources={"postgres": postgres_from_env(), "dbt": dbt_resource(),
                   "alert_webhook": alerts.AlertWebhook(url=setting(alerts.WEBHOOK_SETTING))},
    )


defs = dg.Definitions.merge(shared_defs(), *SOURCE_DEFS)
