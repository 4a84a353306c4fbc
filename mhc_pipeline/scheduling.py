"""The pieces every source's jobs and schedules are made of: a landing job, a daily schedule that never
queues behind its own job, and the in-flight test they share with the every-minute cycle."""

from __future__ import annotations

import dagster as dg

FOLLOWS = "(the dbt models follow through the dbt_follows_landing sensor)"

IN_FLIGHT = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
             dg.DagsterRunStatus.STARTED]


def landing_job(name: str, keys: list[dg.AssetKey], what: str) -> dg.UnresolvedAssetJobDefinition:
    """A landing job runs only its landing asset(s): the dbt models downstream follow on their own."""
    return dg.define_asset_job(name, selection=dg.AssetSelection.assets(*keys), description=f"{what} {FOLLOWS}.")


def job_in_flight(instance: dg.DagsterInstance, job_name: str) -> bool:
    """A run of the job is queued or going: a new tick would only queue behind it (and, on a busy machine,
    pile up a backlog of stale runs); the run that is already there lands the newest data anyway."""
    return instance.get_runs_count(filters=dg.RunsFilter(job_name=job_name, statuses=IN_FLIGHT)) > 0


def schedule(name: str, job, cron: str) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(name=name, job=job, cron_schedule=cron, execution_timezone="UTC",
                                 default_status=dg.DefaultScheduleStatus.RUNNING,
                                 should_execute=lambda context: not job_in_flight(context.instance, job.name))
