"""Benchmark: the simulator's world at benchmark scale (10,000 rooms): build time, the first
`online_rooms(t)` of a minute, the cached call within the same minute, and the next minute.

    .venv/bin/python bench/bench_simulator_world.py [--rooms 10000]
"""

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mhc_pipeline.simulator import World  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rooms", type=int, default=10_000)
    args = parser.parse_args()
    t0 = time.perf_counter()
    world = World(rooms=args.rooms, seed=1)
    build = time.perf_counter() - t0
    t = datetime(2026, 11, 20, 20, 3, 30, tzinfo=UTC)
    t0 = time.perf_counter()
    rooms = world.online_rooms(t)
    first = time.perf_counter() - t0
    cached = []
    for k in range(5):
        t0 = time.perf_counter()
        world.online_rooms(t + timedelta(seconds=5 * k))
        cached.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    world.online_rooms(t + timedelta(minutes=1))
    nxt = time.perf_counter() - t0
    print(f"world of {args.rooms} rooms: build {build * 1000:.0f} ms; {len(rooms)} online")
    print(f"online_rooms: first {first * 1000:.0f} ms, same minute (cached) {min(cached) * 1000:.1f} ms "
          f"(median {sorted(cached)[2] * 1000:.1f}), next minute {nxt * 1000:.0f} ms; "
          f"cached/first ratio {min(cached) / first:.3f}")


if __name__ == "__main__":
    main()
