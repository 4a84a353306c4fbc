"""`mhc demo`: one full cycle of every source and the dbt build, then the current state.

With the simulator in process, the demo's world is set up first (`demo_world`): its clock at the
owner's latest broadcast, the watch list its most watched models, the rate limits lifted."""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime, timedelta

import click

from mhc_pipeline import db, report, runner, runtime, settings


def _step(n: int, total: int, text: str) -> None:
    print(f"[{n}/{total}] {text}", flush=True)


def demo_world(sim) -> str:
    """An in-process simulator's clock starts at the owner's latest broadcast (so the Events API has a
    room to report on) and, with no watch list set, the 20 most watched models of that moment become the
    demo's watch list (so CBHours has models to report on). Returns the note for the simulator line."""
    world, t = sim.world, datetime.now(UTC).replace(second=0, microsecond=0)
    for _ in range(7 * 24 * 60):
        if world.is_online(world.owner, t) and world.is_online(world.owner, t - timedelta(minutes=20)):
            break
        t -= timedelta(minutes=1)
    sim.set_time(t, frozen=False)
    note = f", world clock at {t:%Y-%m-%d %H:%M}Z: {world.owner} is broadcasting"
    # the in-process simulator is ours alone: StatBate (120/min) and the follow lists (20/min) need
    # not be paced as the real sites must be, unless the user set another rate (then the simulator's own
    # StatBate limit stays on too)
    fast = [name for name in ("MHC_STATBATE_MAX_PER_MINUTE", "MHC_FOLLOWS_MAX_PER_MINUTE")
            if name not in os.environ or os.environ[name] == settings.BY_NAME[name].default_for(os.environ)]
    for name in fast:
        os.environ[name] = "6000"
    if "MHC_STATBATE_MAX_PER_MINUTE" in fast:
        sim.statbate_rate_limit = 0
    if not settings.get("MHC_WATCHLIST"):
        top = [r["username"] for r in world.online_rooms(t)[:20]]
        os.environ["MHC_WATCHLIST"] = ",".join(top)
        note += f"; demo watch list: the {len(top)} most watched models"
    return note


@click.command("demo", short_help="One cycle of every source + dbt build, then the state.")
def command() -> int:
    """One full cycle of every source and the dbt build (job full_cycle, visible in the Dagster UI), then
    the current state: the database (embedded unless MHC_DATABASE_URL names a server), the simulator
    (in process unless one answers already), the run with live progress, the merged state."""
    started = time.monotonic()
    settings.prepare_env()
    total = 4
    t = time.monotonic()
    url = runtime.ensure_database()
    _step(1, total, f"database ready: {db.redact_url(url)} ({time.monotonic() - t:.1f}s)")
    runtime.dagster_home()
    with runtime.simulator_in_process(prepare=demo_world) as sim_state:
        _step(2, total, f"simulator: {sim_state}")
        t = time.monotonic()
        _step(3, total, "running job full_cycle (every source, then dbt build) ...")
        result = runner.run_job("full_cycle", progress=True)
        for line in runner.summarise_run(result):
            print(line)
        if not result.success:
            print(f"FAILED: {runner.failure_text(result)}", file=sys.stderr)
            print("  details: `make dev`, then the run in the Dagster UI; or rerun with `mhc -v demo`.",
                  file=sys.stderr)
            return 1
        print(f"  done in {time.monotonic() - t:.1f}s (run {result.run_id[:8]}, visible in `make dev`)")
    _step(4, total, "current state (mhc.v_person_current_state):")
    report.print_current_state(url)
    print(f"demo finished in {time.monotonic() - started:.1f}s")
    return 0
