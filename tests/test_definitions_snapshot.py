"""The code location: the names the UI, the tests and the operators rely on do not change silently (every
asset key, job, schedule with its cron string and sensor equals tests/snapshots/definitions.json), and
importing it has no side effects.

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



def test_importing_the_code_location_writes_no_environment_and_is_the_same_on_any_day():
    """Reading the settings never writes them into os.environ (a secret flows only through dg.EnvVar), and
    the CBHours activity partitions start on a fixed date (the API's 60-day limit is checked in the asset)."""
    import subprocess
    import sys

    code = ("import os, json; before = dict(os.environ); import mhc_pipeline.definitions as d; "
            "print(json.dumps({'changed': sorted(k for k in set(os.environ) | set(before) "
            "if os.environ.get(k) != before.get(k))}))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MHC_")}
    env["MHC_DATA_DIR"] = os.environ.get("MHC_DATA_DIR", "")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"changed": []}


def test_the_activity_partitions_start_on_a_fixed_day_and_the_asset_skips_what_cbhours_no_longer_keeps():
    from datetime import date

    import pytest

    from mhc_pipeline.defs.cbhours import client as cbhours

    assert cbhours.ACTIVITY_PARTITIONS.start.date() == cbhours.ACTIVITY_START
    today = date(2026, 12, 7)  # CBHours keeps 2026-10-09 .. 2026-12-07
    assert cbhours.askable_days(date(2026, 12, 1), today, today) == (date(2026, 12, 1), None)
    start, line = cbhours.askable_days(date(2026, 10, 1), today, today)
    assert start == date(2026, 10, 9) and "2026-10-01..2026-10-08 skipped" in line and "last 60 days" in line
    with pytest.raises(cbhours.TooOld, match="keeps only the last 60 days"):
        cbhours.askable_days(date(2026, 10, 1), date(2026, 10, 8), today)
