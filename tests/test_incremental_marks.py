"""The incremental models read exactly the batches committed since their last build (build marks,
dbt_project/macros/incremental.sql): a batch whose transaction commits after a build that started later is
still read by the next build, a model built without its upstream model does not pass over rows that model
has not written yet, and a build after which nothing landed reads nothing. The lookback is set to 0 minutes
in these builds: a "newest landed_at held minus a lookback" watermark would miss the late batch."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from mhc_pipeline import db, load, settings
from mhc_pipeline.defs.affiliate import client as affiliate
from mhc_pipeline.defs.cbhours import client as cbhours
from mhc_pipeline.simulator.cbhours import live_data
from tests.conftest import count, reset_database

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
NO_LOOKBACK = '{"incremental_lookback_minutes": 0}'


def _dbt(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    project = str(settings.DBT_PROJECT_DIR)
    out = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), *args, "--exclude-resource-type", "test",
         "--exclude-resource-type", "unit_test", "--vars", NO_LOOKBACK, "--project-dir", project,
         "--profiles-dir", project, "--target-path", str(tmp / "target"), "--log-path", str(tmp)],
        capture_output=True, text=True, timeout=600, env=os.environ.copy())
    assert out.returncode == 0, out.stdout[-4000:]
    return out


def _live_batch(world, names: list[str], t: datetime, tmp: Path) -> load.Batch:
    path = tmp / f"live-{t:%H%M%S}.json"
    path.write_bytes(orjson.dumps({"server_status": "up", "data": live_data(world, names, t)}))
    return cbhours.live_batch_from_file(path, t)


def _crawl_batch(world, t: datetime, tmp: Path) -> load.Batch:
    path = tmp / f"crawl-{t:%H%M%S}.json"
    rooms = world.online_rooms(t)
    path.write_bytes(orjson.dumps({"results": rooms, "count": len(rooms)}))
    return affiliate.batch_from_file(path, t)


def _watermark(tmp: Path, model: str) -> datetime:
    """The literal watermark in the SQL dbt last ran for `model`."""
    [path] = (tmp / "target" / "compiled").rglob(f"{model}.sql")
    epochs = [float(e) for e in re.findall(r"to_timestamp\(([0-9.]+)\)", path.read_text())]
    assert epochs, f"no literal watermark in {path}"
    return datetime.fromtimestamp(min(epochs), UTC)


@pytest.fixture(scope="module")
def names(pg_url, sim, tmp_path_factory):
    """Six tracked models; one CBHours cycle landed and everything built once (every incremental model has
    its mark)."""
    with db.connection(pg_url) as conn:
        conn.autocommit = True
        reset_database(conn)
    online = [r["username"] for r in sim.world.online_rooms(T0)]
    names = [u for u in online if sim.world.in_trophy_db(u)][:6]
    tmp = tmp_path_factory.mktemp("marks")
    db.export_libpq_env(pg_url)
    with db.connection(pg_url) as conn:
        load.land(conn, _live_batch(sim.world, names[:2], T0, tmp))
    _dbt(tmp, "build")
    return names


def test_a_batch_that_commits_after_a_later_one_is_read_by_the_next_build(pg_url, sim, names, tmp_path):
    db.export_libpq_env(pg_url)

    # a loader transaction that starts first and commits last (a slow landing)
    started, release = threading.Event(), threading.Event()

    def hold(cur):
        started.set()
        assert release.wait(120)

    def slow_landing():
        with db.connection(pg_url) as slow:
            load.land(slow, _live_batch(sim.world, names[2:4], T0 + timedelta(minutes=1), tmp_path), extra_sql=hold)

    slow = threading.Thread(target=slow_landing)
    slow.start()
    try:
        assert started.wait(60)
        with db.connection(pg_url) as conn:
            load.land(conn, _live_batch(sim.world, names[4:6], T0 + timedelta(minutes=2), tmp_path))
        _dbt(tmp_path, "build", "--select", "cbhours_live_stats")
    finally:
        release.set()
        slow.join(60)
    with db.connection(pg_url) as conn:
        late = count(conn, "select count(*) from mhc.cbhours_live_stats where username = any(%s)", names[2:4])
        assert late == 0, "the slow batch was not committed when the build ran"
        assert count(conn, "select count(*) from mhc.cbhours_live_stats where username = any(%s)", names[4:6]) == 2
        late_landed = count(conn, """select landed_at from raw.batches where raw_table = 'cbhours_live'
                                     order by fetched_at offset 1 limit 1""")
        newest_landed = count(conn, "select max(landed_at) from raw.batches")
        assert late_landed < newest_landed  # landed_at is the start of its transaction: older than the newest

    _dbt(tmp_path, "build", "--select", "cbhours_live_stats", "int_field_observations")
    with db.connection(pg_url) as conn:
        assert count(conn, "select count(*) from mhc.cbhours_live_stats where username = any(%s)", names[2:4]) == 2

    # nothing landed since: the next build reads nothing (its watermark is the newest batch), and the
    # histories int_field_observations also reads but that were not built since (Affiliate, StatBate,
    # legacy) hold back only their own raw tables, in which nothing landed
    _dbt(tmp_path, "build", "--select", "cbhours_live_stats", "int_field_observations")
    with db.connection(pg_url) as conn:
        newest_landed = count(conn, "select max(landed_at) from raw.batches")
    for model in ("cbhours_live_stats", "int_field_observations"):
        assert _watermark(tmp_path, model) >= newest_landed - timedelta(microseconds=2), model


def test_a_model_built_without_its_upstream_model_waits_for_it(pg_url, sim, names, tmp_path):
    """A minute's build of the CBHours models rebuilds int_field_observations without the Affiliate
    history: it must not pass over the crawl that history has not written yet."""
    db.export_libpq_env(pg_url)
    t = T0 + timedelta(minutes=10)
    with db.connection(pg_url) as conn:
        load.land(conn, _crawl_batch(sim.world, t, tmp_path))
        load.land(conn, _live_batch(sim.world, names[:2], t + timedelta(minutes=1), tmp_path))
    _dbt(tmp_path, "build", "--select", "cbhours_live_stats", "int_field_observations")
    with db.connection(pg_url) as conn:
        assert count(conn, "select count(*) from intermediate.int_field_observations where source = 'affiliate' "
                           "and observed_at = %s", t) == 0
    _dbt(tmp_path, "build", "--select", "affiliate_api_snapshots", "int_field_observations")
    with db.connection(pg_url) as conn:
        crawled = count(conn, "select count(*) from mhc.affiliate_api_snapshots where observed_at = %s", t)
        assert crawled == len(sim.world.online_rooms(t)) > 0
        assert count(conn, """select count(distinct person_id) from intermediate.int_field_observations
                              where source = 'affiliate' and observed_at = %s""", t) > 0
