"""Benchmark: CBHours at its 1 request/second limit, as the pipeline runs it.

In one run, against the simulator with its rate limit ON (a request < 0.9 s after the previous one is
blocked with 429), on an embedded PostgreSQL (the limiter is shared through it):
  1. one full live cycle for 200 tracked models (4 get_live requests of 50), wall time;
  2. a 60-day activity backfill of N models while live cycles keep running beside it in another thread
     with its own limiter object and connection (as a separate Dagster run process would have):
     requests/s measured from the simulator's own request log, and the number of blocked requests.

    .venv/bin/python bench/bench_cbhours.py [--models 200] [--backfill-models 12]
"""

import argparse
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mhc_pipeline import db  # noqa: E402
from mhc_pipeline.defs.cbhours import client as cbhours  # noqa: E402
from mhc_pipeline.simulator import Simulator  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--backfill-models", type=int, default=12)
    args = parser.parse_args()
    url = db.start_embedded(Path(tempfile.mkdtemp(prefix="mhc-bench-")) / "pgdata", cleanup_mode="delete")
    sim = Simulator(rooms=max(400, args.models * 2), seed=5, port=0).start()
    try:
        t = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)
        sim.set_time(t)
        world = sim.world
        names = world.usernames[: args.models]
        res = cbhours.CBHoursResource(url=sim.url + "/api.php", max_per_minute=60, timeout=30, retries=5)

        sim.reset_requests()
        started = time.perf_counter()
        with res.client(url) as client:
            batch = cbhours.live_batch(client, res, names, t)
        cycle = time.perf_counter() - started
        print(f"live cycle: {len(names)} tracked models, {len(batch.records)} get_live requests, "
              f"{batch.meta['online']} online, wall time {cycle:.2f} s")

        backfill_models = [u for u in world.usernames if world.in_trophy_db(u)][: args.backfill_models]
        sim.reset_requests()
        stop = threading.Event()
        live_cycles = [0]

        def live_beside():
            with res.client(url) as client:
                while not stop.is_set():
                    cbhours.live_batch(client, res, names, t)
                    live_cycles[0] += 1

        beside = threading.Thread(target=live_beside)
        beside.start()
        started = time.perf_counter()
        with res.client(url) as client:
            batch = cbhours.activity_batch(client, res, backfill_models, t.date() - timedelta(days=59), t.date(), t)
        elapsed = time.perf_counter() - started
        stop.set()
        beside.join()
        log = sorted((r for r in sim.requests if r.path.startswith("/api.php")), key=lambda r: r.mono)
        span = log[-1].mono - log[0].mono
        gaps = [b.mono - a.mono for a, b in zip(log, log[1:])]
        blocked = sum(1 for r in log if r.status == 429)
        print(f"backfill: {len(backfill_models)} models x 60 days ({batch.meta['segments']} segments) in "
              f"{elapsed:.1f} s, beside {live_cycles[0]} live cycles")
        print(f"CBHours requests seen by the simulator: {len(log)} in {span:.1f} s = {(len(log) - 1) / span:.3f} "
              f"requests/s (limit 1.000); smallest gap {min(gaps):.3f} s; blocked (429): {blocked}")
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
