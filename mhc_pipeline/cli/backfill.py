"""`mhc backfill cbhours-activity`: the CBHours activity of the last N days, with a progress bar."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta

import click

from mhc_pipeline import runner, runtime, settings


@click.command("backfill", short_help="Backfill cbhours-activity, with a progress bar.")
@click.argument("what", type=click.Choice(["cbhours-activity"]))
@click.option("--days", type=int, default=60, show_default=True,
              help="How many days back from today (1-60: CBHours keeps 60).")
def command(what: str, days: int) -> int:
    """Backfill a partitioned source (cbhours-activity: the CBHours activity of every watched model)
    over the last --days days: one Dagster run over the partition range (one request per model,
    1 request/s), with a progress bar; visible in the Dagster UI like any backfill run."""
    settings.prepare_env()
    runtime.ensure_database()
    runtime.dagster_home()
    today = datetime.now(UTC).date()
    days = max(1, min(days, 60))
    start, end = today - timedelta(days=days - 1), today
    config = {"ops": {"raw__cbhours_activity": {"config": {"progress": True}}}}
    tags = {"dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": end.isoformat()}
    print(f"cbhours activity backfill {start}..{end} ({days} days, 1 request/s) ...", flush=True)
    started = time.monotonic()
    with runtime.simulator_in_process(sources=("MHC_CBHOURS_URL",)):
        result = runner.run_job("cbhours_activity_job", config, tags=tags)
    for line in runner.summarise_run(result):
        print(line)
    if not result.success:
        print(f"FAILED: {runner.failure_text(result)}", file=sys.stderr)
        return 1
    meta = runner.landing_meta(result, "raw/cbhours_activity")
    print(f"done in {time.monotonic() - started:.1f}s: {meta.get('models', 0)} models, "
          f"{meta.get('segments', 0)} segments, {meta.get('not_in_trophy_db', 0)} not in the trophy database, "
          f"{meta.get('requests', 0)} requests")
    return 0
