"""`mhc statbate USERNAME`: StatBate on demand for one username, as a run of the `statbate_lookup` job."""

from __future__ import annotations

import sys
import time

import click

from mhc_pipeline import runner, runtime, settings


@click.command("statbate", short_help="StatBate on demand for one username.")
@click.argument("username")
def command(username: str) -> int:
    """StatBate on demand for USERNAME (a Chaturbate username): the `statbate_lookup` job (model and
    member info, and the tips of whichever side StatBate knows), visible in the Dagster UI like any run;
    then a short summary."""
    settings.prepare_env()
    runtime.ensure_database()
    runtime.dagster_home()
    name = username.strip().lower()
    config = {"ops": {"statbate_landing": {"config": {"username": name}}}}
    started = time.monotonic()
    with runtime.simulator_in_process(sources=("MHC_STATBATE_URL",)):  # only when StatBate itself is simulated
        result = runner.run_job("statbate_lookup", config)
    if not result.success:
        print(f"FAILED: {runner.failure_text(result)}", file=sys.stderr)
        return 1
    model = runner.landing_meta(result, "raw/statbate_model_info")
    member = runner.landing_meta(result, "raw/statbate_member_info")
    tips = runner.landing_meta(result, "raw/statbate_tips")
    quarantined = sum(int(m.get("rows_quarantined", 0) or 0) for m in (model, member, tips))
    print(f"statbate {name}: model {model.get('answer', '?')}, member {member.get('answer', '?')}, "
          f"{tips.get('tips', 0)} tips on {tips.get('pages', 0)} page(s), {quarantined} quarantined "
          f"({time.monotonic() - started:.1f}s)")
    return 0
