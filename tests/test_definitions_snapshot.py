"""The names the UI, the tests and the operators rely on do not change silently: every asset key, job,
schedule (with its cron string) and sensor of the code location equals tests/snapshots/definitions.json.

A change that means to rename or add one regenerates the file and shows it in its diff:
    MHC_UPDATE_SNAPSHOT=1 python -m pytest tests/test_definitions_snapshot.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"


def snapshot() -> dict:
    from mhc_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    repo = defs.get_repository_def()
    return {
        "assets": sorted(k.to_user_string() for k in graph.get_all_asset_keys()),
        "jobs": sorted(j.name for j in repo.get_all_jobs() if not j.name.startswith("__")),
        "schedules": {s.name: {"cron": s.cron_schedule, "job": s.job_name, "timezone": s.execution_timezone}
                      for s in sorted(repo.schedule_defs, key=lambda s: s.name)},
        "sensors": sorted(s.name for s in repo.sensor_defs),
    }


def test_asset_keys_jobs_schedules_and_sensors_are_the_snapshots():
    now = snapshot()
    if os.environ.get("MHC_UPDATE_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(now, indent=1) + "\n")
    assert now == json.loads(SNAPSHOT.read_text())

