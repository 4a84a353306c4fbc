"""The operator is told when something breaks: a failed run, or a check that failed at ERROR severity, is
posted to a webhook (MHC_ALERT_WEBHOOK_URL) as Slack-compatible JSON (`{"text": ...}`; Slack's incoming
webhooks, Mattermost, Rocket.Chat and most chat tools take it). Each message names the source, the cause
and the fix as the failure or the check says them (e.g. "follows: ... the follows session expired. Set
fresh session cookies (MHC_FOLLOWS_SESSIONID, ...)"). Without the setting both sensors skip, saying so.

Dagster's own helpers: `run_failure_sensor` for runs; a sensor with a cursor over the event log's asset
check evaluations for checks. The post goes through the house HTTP client (retries, timeout, the webhook
URL comes from the environment through `dg.EnvVar` and is registered as a secret: it is never logged)."""

from __future__ import annotations

from urllib.parse import urlsplit

import dagster as dg

from mhc_pipeline.http import HttpClient, SourceError, redact
from mhc_pipeline.sources import SPECS

WEBHOOK_SETTING = "MHC_ALERT_WEBHOOK_URL"
NO_WEBHOOK = f"{WEBHOOK_SETTING} is not set: failures show in the Dagster UI only"


def source_of(name: str) -> str:
    """The source a step or an asset belongs to ("raw__follow_lists", raw/follow_lists -> follows), else
    "dbt" for the models and the name itself."""
    table = name.split("__", 1)[-1].split("/")[-1]
    for spec in SPECS:
        if table in spec.raw_tables:
            return spec.name
    return "dbt" if "dbt" in name else name


class AlertWebhook(dg.ConfigurableResource):
    """Where alerts go: MHC_ALERT_WEBHOOK_URL through `dg.EnvVar` (resources.setting); empty: nowhere."""

    url: str = ""

    def post(self, text: str) -> bool:
        """Post `text`; False when the webhook did not take it (no answer, or an error status)."""
        path = urlsplit(self.url).path  # a chat webhook's token is its path
        with HttpClient("alerts", retries=3, timeout=15, secrets=(self.url, path if len(path) > 8 else None)) as c:
            try:
                answer = c.request("POST", self.url, json={"text": text})
            except SourceError:
                return False
        return answer.status < 300


def run_failure_text(instance: dg.DagsterInstance, run: dg.DagsterRun) -> str:
    """One line per failed step: its source and what its failure says (cause and fix)."""
    lines = []
    for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        event = record.dagster_event
        data = event.step_failure_data
        cause = ""
        if data.user_failure_data is not None and data.user_failure_data.description:
            cause = data.user_failure_data.description
        elif data.error is not None:
            cause = data.error.message
        lines.append(f"{source_of(event.step_key or '')}: {' '.join(cause.split())[:600] or 'failed'}")
    if not lines:
        lines = [record.dagster_event.message or "the run failed"
                 for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)][:1]
    return redact(f"mhc-pipeline: run {run.run_id[:8]} ({run.job_name}) failed. " + " | ".join(lines))


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description=f"A failed run is posted to {WEBHOOK_SETTING} (Slack-compatible JSON): its sources, the cause "
                "and the fix as its failures say them.",
)
def alert_on_run_failure(context: dg.RunFailureSensorContext, alert_webhook: AlertWebhook):
    if not alert_webhook.url:
        return dg.SkipReason(NO_WEBHOOK)
    text = run_failure_text(context.instance, context.dagster_run)
    if not alert_webhook.post(text):
        context.log.warning(f"the webhook did not take the alert of run {context.dagster_run.run_id[:8]}")
    return None


def check_failure_texts(instance: dg.DagsterInstance, after: int) -> tuple[list[str], int]:
    """The checks evaluated after event-log id `after` that failed at ERROR severity, one line each, and the
    newest id seen."""
    records = instance.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=after),
        ascending=True, limit=500)
    texts, newest = [], after
    for record in records:
        newest = max(newest, record.storage_id)
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if evaluation.passed or evaluation.severity != dg.AssetCheckSeverity.ERROR:
            continue
        key = evaluation.asset_key.to_user_string()
        said = evaluation.description or " ".join(
            f"{k}: {v.value}" for k, v in evaluation.metadata.items() if isinstance(getattr(v, "value", None), str))
        texts.append(redact(f"mhc-pipeline: {source_of(key)}: check {evaluation.check_name} on {key} failed. "
                            f"{' '.join(said.split())[:600]}"))
    return texts, newest


@dg.sensor(
    name="alert_on_check_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description=f"A check that failed at ERROR severity (a landing's completeness, a dbt test) is posted to "
                f"{WEBHOOK_SETTING}: the source, the check and what it says to do.",
)
def alert_on_check_failure(context: dg.SensorEvaluationContext, alert_webhook: AlertWebhook):
    if context.cursor is None:  # start from now: what failed before the sensor ran is in the UI already
        latest = context.instance.get_event_records(
            dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION), ascending=False, limit=1)
        context.update_cursor(str(latest[0].storage_id if latest else 0))
        return dg.SkipReason("started: alerts on checks that fail from now on")
    texts, newest = check_failure_texts(context.instance, int(context.cursor))
    if not texts:
        context.update_cursor(str(newest))
        return dg.SkipReason("no check failed")
    if not alert_webhook.url:
        context.update_cursor(str(newest))
        return dg.SkipReason(f"{len(texts)} check(s) failed; {NO_WEBHOOK}")
    if not alert_webhook.post("\n".join(texts)):  # keep the cursor: the next evaluation posts them again
        return dg.SkipReason("the webhook did not take the alert; trying again at the next evaluation")
    context.update_cursor(str(newest))
    return dg.SkipReason(f"{len(texts)} failed check(s) posted")
