"""The operator is told when something breaks (mhc_pipeline/alerts.py): a check failed at ERROR severity and
a failed run are posted to a local HTTP sink as Slack-compatible JSON naming the source, the cause and the
fix, and neither the webhook's token nor a source's secret is in what is posted or logged. Real runs against
the simulator, the sensors evaluated as the daemon evaluates them."""

from __future__ import annotations

import http.server
import logging
import threading
from datetime import UTC, datetime

import dagster as dg
import orjson
import pytest

from mhc_pipeline import alerts

TOKEN = "T0000/B0000/hook-token-kept-secret"


@pytest.fixture()
def sink():
    """A webhook on 127.0.0.1 that keeps every JSON body posted to it."""
    posted: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            posted.append(orjson.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.posted = posted
    server.webhook = alerts.AlertWebhook(url=f"http://127.0.0.1:{server.server_port}/services/{TOKEN}")
    yield server
    server.shutdown()
    server.server_close()


def _defs():
    from mhc_pipeline.definitions import defs

    return defs


def test_an_expired_follows_session_is_posted_naming_the_source_the_cause_and_the_setting(
        sink, pg_url, sim, monkeypatch, caplog):
    from mhc_pipeline.defs.follows import client as follows

    caplog.set_level(logging.DEBUG)
    instance = dg.DagsterInstance.ephemeral()
    context = dg.build_sensor_context(instance=instance, resources={"alert_webhook": sink.webhook})
    assert "from now on" in alerts.alert_on_check_failure(context).skip_message  # old failures are not news
    monkeypatch.setenv("MHC_FOLLOWS_SESSIONID", "expired-session-1234")
    sim.set_time(datetime(2026, 11, 20, 18, 0, tzinfo=UTC))
    try:
        result = dg.materialize([follows.follow_lists], resources=_defs().resources, instance=instance,
                                run_config={"ops": {"raw__follow_lists": {"config": {"directions": ["following"]}}}})
    finally:
        sim.set_time(None)
    assert result.success  # landed as incomplete: the check failed, not the run
    context = dg.build_sensor_context(instance=instance, cursor=context.cursor,
                                      resources={"alert_webhook": sink.webhook})
    assert "1 failed check(s) posted" in alerts.alert_on_check_failure(context).skip_message
    [message] = sink.posted
    text = message["text"]
    assert text.startswith("mhc-pipeline: follows: check following_list_complete on raw/follow_lists failed.")
    assert "session expired" in text and "MHC_FOLLOWS_SESSIONID" in text
    assert "expired-session-1234" not in text and TOKEN not in caplog.text
    # evaluated again: nothing new, nothing posted
    context = dg.build_sensor_context(instance=instance, cursor=context.cursor,
                                      resources={"alert_webhook": sink.webhook})
    assert alerts.alert_on_check_failure(context).skip_message == "no check failed" and len(sink.posted) == 1


def test_a_failed_run_is_posted_with_its_source_and_cause(sink, pg_url, sim, monkeypatch):
    from mhc_pipeline.defs.affiliate import client as affiliate

    monkeypatch.setenv("MHC_AFFILIATE_URL", "http://127.0.0.1:9/api/public/affiliates/onlinerooms/")  # port 9: none
    monkeypatch.setenv("MHC_HTTP_RETRIES", "0")
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([affiliate.affiliate_onlinerooms], resources=_defs().resources, instance=instance,
                            raise_on_error=False)
    assert not result.success
    context = dg.build_run_status_sensor_context(
        sensor_name="alert_on_run_failure", dagster_event=result.get_run_failure_event(), dagster_instance=instance,
        dagster_run=result.dagster_run, resources={"alert_webhook": sink.webhook}).for_run_failure()
    alerts.alert_on_run_failure(context)
    [message] = sink.posted
    text = message["text"]
    assert text.startswith(f"mhc-pipeline: run {result.run_id[:8]} (__ephemeral_asset_job__) failed. affiliate: ")
    assert "connection failed" in text, text
    # without the setting the sensors say so and post nothing
    silent = alerts.AlertWebhook(url="")
    context = dg.build_run_status_sensor_context(
        sensor_name="alert_on_run_failure", dagster_event=result.get_run_failure_event(), dagster_instance=instance,
        dagster_run=result.dagster_run, resources={"alert_webhook": silent}).for_run_failure()
    assert alerts.NO_WEBHOOK in alerts.alert_on_run_failure(context).skip_message and len(sink.posted) == 1
